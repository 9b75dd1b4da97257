"""Every sample disk, in every container and layout, gives its article, exit code and evidence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MANIFEST, unpack_to
from vhdfix.diagnosis import diagnose, load_catalog
from vhdfix.inspection import Inspection, inspect

SCENARIOS = MANIFEST["scenarios"]
FILES = {entry["path"]: entry for entry in MANIFEST["files"]}
NON_ARTICLE_STATE = {"healthy": "healthy", "generalized": "generalized-ready"}
SETUP_FACTS = {
    "SetupType": "setup.SetupType",
    "CmdLine": "setup.CmdLine",
    "SystemSetupInProgress": "setup.SystemSetupInProgress",
    "OOBEInProgress": "setup.OOBEInProgress",
    "SetupPhase": "setup.SetupPhase",
    "ChildCompletion\\setup.exe": "setup.ChildCompletion.setup.exe",
    "SysprepStatus\\GeneralizationState": "sysprep.GeneralizationState",
    "SysprepStatus\\CleanupState": "sysprep.CleanupState",
    "UnattendFile": "setup.UnattendFile",
}
FINISH = "OSStartUp-WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM"
COMPLETE = "OSStartUp-WINDOWS_COULD_NOT_COMPLETE_INSTALLATION"
# The two UNDEPLOYABLE disks show the same evidence for both articles (SCENARIOS.md): a tie, which the screen breaks.
TIED = {"could-not-finish-configuring": [FINISH, COMPLETE], "could-not-complete-installation": [FINISH, COMPLETE]}
SCREEN = {"could-not-finish-configuring": ("Windows could not finish configuring the system.", FINISH),
          "could-not-complete-installation": ("windows could NOT complete the   installation", COMPLETE)}


@pytest.mark.parametrize("name", sorted(FILES))
def test_sample_disk_gives_its_article(inspected_fixtures: dict[str, Inspection], name: str) -> None:
    entry = FILES[name]
    scenario = SCENARIOS[entry["scenario"]]
    result = inspected_fixtures[name]
    assert result.error is None, result.error
    expected_article = scenario["article"]
    assert (result.article.id if result.article else None) == expected_article
    assert result.exit_code == (1 if expected_article else 0)
    if expected_article is None:
        assert result.diagnosis.state == NON_ARTICLE_STATE[entry["scenario"]]
    also = {match.article.id for match in result.diagnosis.matches[1:]}
    assert set(scenario["also_matches"]) <= also
    tied = [match.article.id for match in result.diagnosis.tied]
    assert tied == TIED.get(entry["scenario"], [expected_article] if expected_article else [])
    assert [item["article"] for item in result.to_json()["tied"]] == tied
    assert len({match.confidence for match in result.diagnosis.tied}) <= 1


@pytest.mark.parametrize("name", sorted(name for name in FILES if FILES[name]["scenario"] in SCREEN))
def test_the_screen_text_breaks_the_tie_of_each_sample(inspected_fixtures: dict[str, Inspection], name: str) -> None:
    result = inspected_fixtures[name]
    text, article = SCREEN[FILES[name]["scenario"]]
    diagnosis = diagnose(load_catalog(), result.evidence, text)
    assert [match.article.id for match in diagnosis.tied] == [article]
    assert diagnosis.best.confidence == "high" and diagnosis.best.named_by_screen
    unknown = diagnose(load_catalog(), result.evidence, "Something no article shows")
    assert [match.article.id for match in unknown.tied] == TIED[FILES[name]["scenario"]]
    assert unknown.screen is not None and unknown.screen.named == ()


@pytest.mark.parametrize("name", sorted(FILES))
def test_sample_disk_layout_and_values(inspected_fixtures: dict[str, Inspection], name: str) -> None:
    entry = FILES[name]
    scenario = SCENARIOS[entry["scenario"]]
    result = inspected_fixtures[name]
    assert result.disk.info.format == entry["format"].split("-")[0]
    assert result.disk.info.variant == entry["format"].split("-")[1]
    assert result.disk.virtual_size == entry["virtual_size"]
    assert [(p.number, p.offset, p.size) for p in result.table.partitions] == \
        [(p["number"], p["offset"], p["size"]) for p in entry["partitions"]]
    assert result.windows.partition.number == entry["windows_partition"]
    facts = result.evidence.facts
    for name_in_manifest, fact in SETUP_FACTS.items():
        if name_in_manifest in scenario["setup"]:
            assert facts[fact] == scenario["setup"][name_in_manifest], fact
    assert facts["image_state.registry"] == scenario["image_state"]
    assert facts["image_state.state_ini"] == scenario["state_ini_image_state"]
    assert facts["os.ProductName"] == scenario["product_name"]
    assert facts["os.CurrentBuild"] == scenario["current_build"]
    assert facts["system.ComputerName"] == scenario["computer_name"]


def test_dirty_hive_is_read_through_its_log(inspected_fixtures: dict[str, Inspection]) -> None:
    result = inspected_fixtures["provisioning-agent-dirty-hive.vhd.xz"]
    system = result.hives[0]
    assert system.hive.state == "recovered"
    assert system.hive.entries_applied == 2
    assert result.evidence.facts["setup.OOBEInProgress"] == 1
    payload = result.to_json()
    assert payload["hives"][0]["state"] == "recovered"
    assert any("SYSTEM hive is dirty: 2 transaction-log entries were replayed" in w for w in payload["warnings"])


def test_stale_log_on_a_clean_hive_is_ignored(inspected_fixtures: dict[str, Inspection]) -> None:
    result = inspected_fixtures["healthy.vhd.xz"]
    assert result.hives[0].hive.state == "clean"
    assert result.evidence.facts["setup.OOBEInProgress"] == 0


def test_provisioning_agent_evidence_and_remedy(inspected_fixtures: dict[str, Inspection]) -> None:
    payload = inspected_fixtures["provisioning-agent.vhd"].to_json()
    assert payload["schema"] == "vhdfix.inspect/1"
    assert payload["article"] == "OSStartUp-PROVISIONING_AGENT"
    assert payload["matches"][0]["confidence"] == "high"
    files = {item["path"] for item in payload["evidence"] if item["kind"] == "file"}
    assert "Windows\\OEM\\Unattend.wsf" in files
    registry = {(i["hive"], i["key"], i["name"]): i["value"] for i in payload["evidence"] if i["kind"] == "registry"}
    assert registry[("SYSTEM", "Setup", "OOBEInProgress")] == 1
    logs = [item for item in payload["evidence"] if item["kind"] == "log" and item["path"].endswith("WaSetup.log")]
    assert logs and "ErrorHandler" in logs[0]["lines"][-1]
    documented = {step["id"] for step in payload["remedy"] if step["documented"]}
    assert "remove-unattend-wsf" in documented
    assert not any("~" in path for path in files), "8.3 aliases must not be listed as files"


def test_readme_command_on_the_bundled_sample() -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", str(FIXTURES / "provisioning-agent.vhd")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "OSStartUp-PROVISIONING_AGENT" in done.stdout
    assert "Windows\\OEM\\Unattend.wsf" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a TTY


def test_a_corrupt_hive_is_reported_and_inspection_goes_on(tmp_path: Path) -> None:
    source = unpack_to(FIXTURES / "matrix" / "provisioning-agent-mbr-vhd-fixed.vhd.xz", tmp_path)
    data = bytearray(source.read_bytes())
    name = "SOFTWARE".encode("utf-16-le")
    base = next(i for i in range(0, len(data), 4096) if data[i:i + 4] == b"regf" and data[i + 48:i + 64] == name)
    data[base + 4096:base + 4100] = b"XXXX"  # the first hive bin's "hbin" signature
    broken = tmp_path / "broken-software.vhd"
    broken.write_bytes(bytes(data))
    result = inspect(broken)
    assert result.error is None
    software = result.hives[1]
    assert software.error is not None and software.error.code == "hive-corrupt"
    assert any(w.startswith("SOFTWARE hive: [hive-corrupt]") for w in result.warnings)
    assert result.evidence.facts["setup.OOBEInProgress"] == 1  # SYSTEM was still read
    assert result.evidence.facts["image_state.state_ini"] == "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE"
    assert result.article.id == "OSStartUp-PROVISIONING_AGENT"
