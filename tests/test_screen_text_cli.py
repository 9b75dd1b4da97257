"""``--screen-text`` end to end on the sample disks: inspect (text and JSON, CLI and API) and repair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import vhdfix
from tests.conftest import FIXTURES, unpack_to
from vhdfix.cli import cli
from vhdfix.diagnosis import diagnose, load_catalog
from vhdfix.evidence.model import EvidenceSet
from vhdfix.inspection import Inspection
from vhdfix.report.inspection_text import render_inspection
from vhdfix.report.style import Style

FINISH = "OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM"
COMPLETE = "OSStartUp-WINDOWS_COULD_NOT_COMPLETE_INSTALLATION"
PA = str(FIXTURES / "provisioning-agent.vhd")


@pytest.fixture(scope="module")
def undeployable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_to(FIXTURES / "could-not-finish-configuring.vhd.xz", tmp_path_factory.mktemp("undeployable"))


def test_the_text_report_shows_the_tie_with_each_screen_line(undeployable: Path) -> None:
    done = CliRunner().invoke(cli, ["inspect", str(undeployable)])
    assert done.exit_code == 1, done.output
    assert "TIED: the disk shows the same evidence for 2 articles (confidence high)" in done.output
    tie = done.output[done.output.index("TIED"):done.output.index("Pass --screen-text")]
    assert f"    {FINISH}\n        screen: Windows could not finish configuring the system." in tie
    assert f"    {COMPLETE}\n        screen: Windows could not complete the installation." in tie


def test_the_screen_text_picks_one_in_text_and_json(undeployable: Path) -> None:
    done = CliRunner().invoke(cli, ["inspect", str(undeployable), "--screen-text", "windows could not complete the"])
    assert done.exit_code == 1 and "TIED" not in done.output
    assert f"Screen text 'windows could not complete the' names: {COMPLETE}" in done.output
    payload = json.loads(CliRunner().invoke(cli, ["inspect", str(undeployable), "--json", "--screen-text",
                                                  "Windows could not complete the installation."]).output)
    assert payload["schema"] == "vhdfix.inspect/1" and payload["article"] == COMPLETE
    assert [item["article"] for item in payload["tied"]] == [COMPLETE]
    assert payload["screen_text"]["matched"][0]["article"] == COMPLETE
    assert payload["matches"][0]["named_by_screen"] is True and payload["matches"][0]["disk_evidence"] is True
    assert payload["matches"][1]["article"] == FINISH and payload["matches"][1]["named_by_screen"] is False


def test_an_unknown_screen_text_changes_nothing_and_says_so() -> None:
    plain = json.loads(CliRunner().invoke(cli, ["inspect", PA, "--json"]).output)
    done = CliRunner().invoke(cli, ["inspect", PA, "--json", "--screen-text", "Nothing like any article"])
    payload = json.loads(done.output)
    assert done.exit_code == 1
    assert payload["screen_text"] == {"text": "Nothing like any article", "matched": []}
    assert plain["screen_text"] is None
    assert {key: value for key, value in payload.items() if key != "screen_text"} == \
        {key: value for key, value in plain.items() if key != "screen_text"}
    text = CliRunner().invoke(cli, ["inspect", PA, "--screen-text", "Nothing like any article"]).output
    assert "Screen text 'Nothing like any article' matched no article" in text


def test_the_python_api_takes_the_screen_text() -> None:
    result = vhdfix.inspect(PA, screen_text="Starting Windows")
    assert [match.article.id for match in result.diagnosis.matches] == ["OSStartUp-PROVISIONING_AGENT",
                                                                      "OSStartUp-STARTING_WINDOWS"]
    assert result.diagnosis.matches[1].disk_evidence is False and result.article.id == "OSStartUp-PROVISIONING_AGENT"


def test_repair_refuses_the_tie_when_a_flag_makes_the_writes_differ(undeployable: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.vhd"
    refused = CliRunner().invoke(cli, ["repair", str(undeployable), "-o", str(out), "--dry-run", "--json",
                                       "--reset-setup-state"])
    payload = json.loads(refused.stdout)
    assert refused.exit_code == 2 and payload["error"]["code"] == "diagnosis-tied"
    assert [item["article"] for item in payload["diagnosis"]["tied"]] == [FINISH, COMPLETE]
    picked = CliRunner().invoke(cli, ["repair", str(undeployable), "-o", str(out), "--dry-run", "--json",
                                      "--reset-setup-state", "--screen-text", "Windows could not finish configuring"])
    assert picked.exit_code == 0, picked.output
    assert json.loads(picked.stdout)["outcome"] == "would-repair" and not out.exists()


def test_repair_writes_nothing_for_an_article_the_screen_alone_names(tmp_path: Path) -> None:
    healthy = unpack_to(FIXTURES / "healthy.vhd.xz", tmp_path)
    result = vhdfix.repair(healthy, tmp_path / "out.vhd", screen_text="Applying Registry policy")
    assert result.exit_code == 1 and result.outcome == "nothing-to-repair"
    assert "named by the screen text only" in result.message and not (tmp_path / "out.vhd").exists()


def test_the_report_says_the_grub_articles_are_linux_articles() -> None:
    """What inspection reports for a Linux disk (the evidence set the Linux path of inspection gives)."""
    evidence = EvidenceSet(facts={"linux.root": True})
    result = Inspection("linux.vhd", evidence=evidence, diagnosis=diagnose(load_catalog(), evidence))
    text = render_inspection(result, Style(False))
    assert "TIED: the disk shows the same evidence for 2 articles (confidence low)" in text
    assert "    OSStartUp-GRUB_PROMPT\n        screen: grub>" in text
    assert "A Linux article: this is a Linux disk" in text
    payload = result.to_json()
    assert payload["article"] == "OSStartUp-GRUB_PROMPT" and payload["state"] == "article"
    assert [match["platform"] for match in payload["matches"]] == ["linux", "linux"]
