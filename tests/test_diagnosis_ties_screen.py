"""Ties (same confidence, same evidence), the screen text that breaks them, repair's rule for a tie, and the
README's coverage table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.test_diagnosis_article_rules import CLEANUP, GRUB, HEALTHY, PENDING, UPDATES, diagnosed
from vhdfix.cli import cli
from vhdfix.diagnosis import diagnose, load_catalog
from vhdfix.diagnosis.catalog import Article, parse_article
from vhdfix.diagnosis.coverage import coverage_markdown
from vhdfix.diagnosis.screen import MAXIMUM_PASTE, normalize, read_screen
from vhdfix.errors import DiagnosisTied
from vhdfix.evidence.model import EvidenceSet
from vhdfix.repair import check_tie

CATALOG = load_catalog()
P = "OSStartUp-"
README = Path(__file__).resolve().parent.parent / "README.md"


def named(text: str) -> list[str]:
    return list(read_screen(text, CATALOG).named_ids)


# --- reading the screen text ---------------------------------------------------------------------------------------


def test_normalize_drops_case_punctuation_and_spacing() -> None:
    assert normalize("  Getting Windows ready.\nDon't   turn off your computer!") == \
        "getting windows ready dont turn off your computer"
    assert normalize("Don\u2019t") == normalize("dont") == normalize("DON'T")


@pytest.mark.parametrize(("text", "expected"), [
    ("Applying Audit Policy Configuration policy", [f"{P}APPLYING_AUDIT_POLICY_CONFIGURATION_POLICY"]),
    ("applying audit policy config", [f"{P}APPLYING_AUDIT_POLICY_CONFIGURATION_POLICY"]),  # truncated
    ("APPLYING   AUDIT-POLICY configuration, policy...", [f"{P}APPLYING_AUDIT_POLICY_CONFIGURATION_POLICY"]),
    ("Please wait", [f"{P}PLEASE_WAIT"]),  # a whole screen text beats a fragment of a longer one
    ("Please wait for the Local Session Manager", [f"{P}PLEASE-WAIT"]),  # the longest whole one wins
    ("Getting ready", [f"{P}GETTING_READY"]),
    ("Getting Windows ready. Don't turn off your computer", [f"{P}GETTING_WINDOWS_READY"]),
    ("Lets start with region", [f"{P}OOBE"]),
    ("Working on features 45% complete", [f"{P}WORKING_ON_FEATURES"]),
    ("It said: Error C01A001D applying update operation 123 of 456", [f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"]),
    ("Windows could not finish configuring the system. To attempt to resume configuration, restart the computer.",
     [f"{P}WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM"]),
    ("Windows could not complete the installation", [f"{P}WINDOWS_COULD_NOT_COMPLETE_INSTALLATION"]),
    ("Administrator: ERROR HANDLER", [f"{P}PROVISIONING_AGENT"]),
    ("grub rescue>", [f"{P}GRUB_RESCUE_PROMPT"]),
    ("grub>", [f"{P}GRUB_PROMPT"]),
    ("Starting Windows", [f"{P}STARTING_WINDOWS"]),
    ("Loading Windows files", [f"{P}LOADING_WINDOWS_FILES"]),
])
def test_a_screen_text_names_its_article(text: str, expected: list[str]) -> None:
    assert named(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "wait", "!!!", "Hello world", "Blue screen: CRITICAL_PROCESS_DIED"])
def test_an_unknown_or_too_short_screen_text_names_nothing(text: str) -> None:
    assert named(text) == []


def test_a_huge_paste_is_cut_and_still_read() -> None:
    reading = read_screen("Starting Windows " + "x" * 10_000_000, CATALOG)
    assert reading.named_ids == (f"{P}STARTING_WINDOWS",) and len(reading.text) == 2000


def test_states_are_never_named() -> None:
    assert all(article.kind == "article" for article in read_screen("Healthy", CATALOG).named)


# --- ties and the screen text ---------------------------------------------------------------------------------------


def test_the_screen_text_breaks_a_tie() -> None:
    facts = {"policy.cleanup_profiles": 30, "os.build": 9600}
    assert [match.article.id for match in diagnosed(facts).tied] == CLEANUP
    diagnosis = diagnosed(facts, "Getting Devices Ready")
    assert [match.article.id for match in diagnosis.tied] == [f"{P}GETTING_DEVICES_READY"]
    assert diagnosis.best.confidence == "high" and diagnosis.best.named_by_screen and diagnosis.best.disk_evidence
    assert [match.article.id for match in diagnosis.matches[1:]] == [a for a in CLEANUP if "DEVICES" not in a]
    assert {match.confidence for match in diagnosis.matches} == {"high"}  # the others stay, no longer tied


def test_the_screen_text_picks_an_article_that_matched_at_a_lower_confidence() -> None:
    """The screen is what the VM shows: an article it names whose cause is on the disk ranks first."""
    facts = {"policy.cleanup_profiles": 30, "os.build": 9600, "servicing.pending": True,
             "servicing.reboot_pending": True}
    diagnosis = diagnosed(facts, "Failure configuring Windows updates. Reverting changes.")
    assert (diagnosis.best.article.id, diagnosis.best.confidence) == (f"{P}WINDOWS_UPDATE_ROLLBACK", "low")
    assert [match.article.id for match in diagnosis.tied] == [f"{P}WINDOWS_UPDATE_ROLLBACK"]


def test_a_screen_text_that_names_two_articles_of_a_tie_keeps_them_tied() -> None:
    catalog = [article("A", RULE, screen="Same screen"), article("B", RULE, screen="Same screen"),
               article("C", RULE, screen="Another screen")]
    diagnosis = diagnose(catalog, EvidenceSet(facts={"a": 1}), "same SCREEN")
    assert [match.article.id for match in diagnosis.tied] == ["A", "B"] and diagnosis.screen.named_ids == ("A", "B")
    grub = diagnose(CATALOG, EvidenceSet(facts={"linux.root": True}), "grub rescue>")
    assert [match.article.id for match in grub.tied] == [f"{P}GRUB_RESCUE_PROMPT"]
    assert [match.article.id for match in diagnose(CATALOG, EvidenceSet(facts={"linux.root": True})).tied] == GRUB


def test_an_article_named_with_no_sign_on_the_disk_is_reported_at_low_confidence() -> None:
    diagnosis = diagnosed({}, "Applying Registry policy")
    (match,) = diagnosis.matches
    assert (match.article.id, match.confidence, match.disk_evidence, match.named_by_screen) == \
        (f"{P}APPLYING_REGISTRY_POLICY", "low", False, True)
    assert match.reasons == ("[low] named by the screen text; no sign of its cause on the disk",)
    assert match.facts == {"dump.memory_dmp": False, "dump.crash_dump_enabled": 7, "dump.nmi_crash_dump": None,
                           "dump.dump_file": "%SystemRoot%\\MEMORY.DMP"}
    assert diagnosis.state == "article"


def test_a_named_article_without_disk_signs_does_not_outrank_disk_evidence() -> None:
    diagnosis = diagnosed(PENDING, "Starting Windows")
    assert [match.article.id for match in diagnosis.tied] == UPDATES
    assert (diagnosis.matches[-1].article.id, diagnosis.matches[-1].disk_evidence) == \
        (f"{P}STARTING_WINDOWS", False)


@pytest.mark.parametrize("facts", [{}, PENDING, {"policy.cleanup_profiles": 1, "os.build": 9200}, {"bcd.safeboot": 2}])
def test_an_unknown_screen_text_changes_nothing(facts: dict[str, Any]) -> None:
    def ranked(screen: str | None) -> list[tuple[str, str]]:
        return [(match.article.id, match.confidence) for match in diagnosed(facts, screen).matches]

    assert ranked("Something no article shows") == ranked(None)
    unknown = diagnosed(facts, "Something no article shows")
    assert unknown.screen is not None and unknown.screen.to_json() == {"text": "Something no article shows",
                                                                      "matched": []}


def test_ties_need_the_same_evidence_values_not_only_the_same_facts() -> None:
    rule = ('[[match]]\nconfidence = "high"\nreason = "r"\nany = [{ fact = "a", equals = 1 }, '
            '{ fact = "b", equals = 1 }]\n')
    other = rule.replace('any = [{ fact = "a", equals = 1 }, { fact = "b", equals = 1 }]',
                         'all = [{ fact = "a", equals = 1 }]')
    catalog = [article("X", rule), article("Y", rule), article("Z", other)]
    assert [m.article.id for m in diagnose(catalog, EvidenceSet(facts={"a": 1, "b": 0})).tied] == ["X", "Y"]
    # Z tested only "a": its evidence differs (fewer facts), so it is not tied even at the same confidence
    assert [m.article.id for m in diagnose(catalog, EvidenceSet(facts={"a": 1, "b": 0})).matches] == ["X", "Y", "Z"]


def test_the_tied_set_comes_first_even_when_another_match_ranks_between_its_members() -> None:
    rule = '[[match]]\nconfidence = "high"\nreason = "r"\nall = [{ fact = "a", equals = 1 }]\n'
    between = '[[match]]\nconfidence = "high"\nreason = "r"\nall = [{ fact = "b", equals = 1 }]\n'
    catalog = [article("A", rule, priority=30), article("B", between, priority=20), article("C", rule, priority=10)]
    diagnosis = diagnose(catalog, EvidenceSet(facts={"a": 1, "b": 1}))
    assert [m.article.id for m in diagnosis.matches] == ["A", "C", "B"]
    assert [m.article.id for m in diagnosis.tied] == ["A", "C"]


def test_the_json_lists_the_tied_set_with_each_screen_text() -> None:
    diagnosis = diagnosed({"policy.cleanup_profiles": 30, "os.build": 9600})
    tied = diagnosis.tied_json()
    assert [item["article"] for item in tied] == CLEANUP
    assert tied[2] == {"article": f"{P}PLEASE_WAIT", "title": "VM boot error: Please wait", "confidence": "high",
                       "screen_text": "Please wait"}
    assert diagnosed({}).tied_json() == []


# --- repair and ties ---------------------------------------------------------------------------------------------


def article(article_id: str, rules: str, remedy: str = "", priority: int = 0, screen: str = "") -> Article:
    screen = screen or f"The screen of article {article_id}"
    return parse_article(f'id = "{article_id}"\nkind = "article"\ntitle = "{article_id}"\nsources = []\n'
                         f'summary = ""\nscreen_text = "{screen}"\npriority = {priority}\n{rules}{remedy}',
                         f"{article_id}.toml")


RULE = '[[match]]\nconfidence = "high"\nreason = "r"\nall = [{ fact = "a", equals = 1 }]\n'


def remedy(step_id: str, path: str, documented: bool = True) -> str:
    return (f'[[remedy]]\nid = "{step_id}"\ntext = "t"\ndocumented = {str(documented).lower()}\nsource = "s"\n'
            f'action = {{ type = "delete-files", paths = ["{path}"] }}\n')


MANUAL = '[[remedy]]\nid = "m"\ntext = "t"\ndocumented = true\nsource = "s"\naction = { type = "manual" }\n'


def test_repair_refuses_a_tie_whose_articles_write_different_things() -> None:
    catalog = [article("A", RULE, remedy("one", "x")), article("B", RULE, remedy("two", "y"))]
    with pytest.raises(DiagnosisTied, match="A, B, whose remedies write different things; pass --screen-text"):
        check_tie(diagnose(catalog, EvidenceSet(facts={"a": 1})), ())
    check_tie(diagnose(catalog, EvidenceSet(facts={"a": 1}), "screen of article B"), ())  # no tie left


def test_repair_takes_the_first_of_a_tie_whose_articles_write_the_same() -> None:
    same = [article("A", RULE, remedy("one", "x") + MANUAL), article("B", RULE, remedy("one", "x"))]
    check_tie(diagnose(same, EvidenceSet(facts={"a": 1})), ())
    nothing = [article("A", RULE, MANUAL), article("B", RULE)]
    check_tie(diagnose(nothing, EvidenceSet(facts={"a": 1})), ())


def test_steps_not_documented_only_count_when_asked_for() -> None:
    catalog = [article("A", RULE, remedy("one", "x", documented=False)), article("B", RULE, MANUAL)]
    check_tie(diagnose(catalog, EvidenceSet(facts={"a": 1})), ())
    with pytest.raises(DiagnosisTied):
        check_tie(diagnose(catalog, EvidenceSet(facts={"a": 1})), ("one",))


def test_the_bundled_ties_are_not_refused_without_extended_steps() -> None:
    for facts in ({"policy.cleanup_profiles": 30, "os.build": 9600}, PENDING, {"linux.root": True}):
        check_tie(diagnose(CATALOG, EvidenceSet(facts=HEALTHY | facts)), ())


# --- the catalogue's coverage -------------------------------------------------------------------------------------


def test_the_readme_coverage_table_is_the_catalogue_s() -> None:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- coverage:begin -->\n(.*?)<!-- coverage:end -->", text, re.DOTALL)
    assert found, "README.md lost its coverage markers"
    assert found.group(1) == coverage_markdown(CATALOG), "regenerate it: vhdfix articles --coverage"


def test_the_coverage_table_has_every_article_once() -> None:
    rows = coverage_markdown(CATALOG).splitlines()[2:]
    ids = [row.split("`")[1] for row in rows]
    assert ids == [article.id for article in CATALOG if article.kind == "article"]
    assert len([i for i in ids if i.startswith("OSStartUp-")]) == 29
    audit = next(row for row in rows if "AUDIT_POLICY" in row)
    assert "APPLYING_COMPUTER_SETTINGS" in audit and "`policy.cleanup_profiles`, `os.build`" in audit
    assert "writes `remove-unattend-wsf`" in next(row for row in rows if "PROVISIONING_AGENT" in row)
    assert "| no: " in next(row for row in rows if "STARTING_WINDOWS" in row)
    assert "only with `--screen-text`" in next(row for row in rows if "DOMAIN_CONTROLLERS" in row)


def test_vhdfix_articles_lists_all_29_and_says_what_the_disk_shows() -> None:
    done = CliRunner().invoke(cli, ["articles"])
    assert done.exit_code == 0
    assert len(re.findall(r"^OSStartUp-\S+", done.output, re.MULTILINE)) == 29
    assert "OSStartUp-GRUB_PROMPT  (Linux article)" in done.output
    assert "detected: no: Microsoft names no cause" in done.output
    payload = json.loads(CliRunner().invoke(cli, ["articles", "--json"]).output)
    by_id = {item["id"]: item for item in payload}
    assert by_id[f"{P}STARTING_WINDOWS"]["detection"].startswith("none: ")
    assert by_id[f"{P}LOADING_WINDOWS_FILES"]["detection"] == "rules"
    assert by_id[f"{P}LOADING_WINDOWS_FILES"]["evidence_facts"] == ["bcd.safeboot"]
    assert by_id[f"{P}GRUB_RESCUE_PROMPT"]["platform"] == "linux"
    coverage = CliRunner().invoke(cli, ["articles", "--coverage"])
    assert coverage.exit_code == 0 and coverage.output == coverage_markdown(CATALOG)


def test_every_article_cites_its_self_help_source_and_documents_microsoft_s_steps() -> None:
    for item in CATALOG:
        if item.kind != "article":
            continue
        assert any("microsoft.compute.cantrdp.noboot/" in source for source in item.sources), item.id
        assert item.screen_text and item.steps, item.id
        assert len(item.screen_text) < MAXIMUM_PASTE, item.id
        assert any(step.documented for step in item.remedy), item.id
