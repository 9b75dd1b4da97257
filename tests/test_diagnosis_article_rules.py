"""Every bundled article's rules over evidence built here with the fact names of the evidence code and of the
issue-13 contract (CONTRACT-13.md): for each article with rules, a fact set that fires it, the articles it is
tied with, and a near miss that does not fire it. A healthy disk, even a domain controller with a memory dump
and feature events in its Setup log, gives no article."""

from __future__ import annotations

from typing import Any

import pytest

from vhdfix.diagnosis import Diagnosis, diagnose, load_catalog
from vhdfix.evidence.model import EvidenceSet

CATALOG = load_catalog()
P = "OSStartUp-"

# A healthy, provisioned Windows Server 2022 VM, as the evidence code and the contract's readers describe it.
HEALTHY: dict[str, Any] = {
    "image_state": "IMAGE_STATE_COMPLETE", "image_state.oobe_pending": False, "setup.in_progress": False,
    "setup.OOBEInProgress": 0, "setup.cmdline_windeploy": False, "setup.ChildCompletion.setup.exe": 3,
    "sysprep.GeneralizationState": 7, "sysprep.succeeded_tag": True, "sysprep.unattend_switch": False,
    "answer_files.custom": [], "pa.unattend_wsf": True, "pa.unattend_wsf_exe": False, "pa.error_handler_last": False,
    "logs.panther_setuperr": 0, "logs.unattendgc_setupact": 0,
    "os.build": 20348, "os.product_name": "Windows Server 2022 Datacenter", "os.installation_type": "Server",
    "policy.cleanup_profiles": None,
    "bcd.location": "System Reserved:\\Boot\\BCD", "bcd.default_loader": "{c0f3a2b4-1d2e-11ef-9e4a-000d3a2b1c01}",
    "bcd.safeboot": None,
    "servicing.pending_xml": False, "servicing.reboot_pending": False, "servicing.packages_pending": [],
    "servicing.pending": False,
    "servicing.feature_events": [],  # only changes that never completed (vhdfix.evidence.signals)
    "volume.size_bytes": 136_364_163_072, "volume.free_bytes": 80_000_000_000, "volume.free_percent": 58.67,
    "sql.installed": False, "sql.instances": [], "upgrade.windows_bt": False, "upgrade.setupdiag_results": False,
    "dc.ntds_database": None, "dump.memory_dmp": False, "dump.crash_dump_enabled": 7, "dump.nmi_crash_dump": None,
    "dump.dump_file": "%SystemRoot%\\MEMORY.DMP", "linux.root": None,
}

CLEANUP = [f"{P}APPLYING_AUDIT_POLICY_CONFIGURATION_POLICY", f"{P}APPLYING_GROUP_POLICY_LOCAL_USERS_AND_GROUPS_POLICY",
           f"{P}PLEASE_WAIT", f"{P}GETTING_DEVICES_READY", f"{P}APPLYING_COMPUTER_SETTINGS"]
UPDATES = [f"{P}WINDOWS_UPDATE_INSTALLATION", f"{P}WINDOWS_UPDATE_ROLLBACK", f"{P}WINDOWS_UPDATE_CONTAINER_CRASH",
           f"{P}GETTING_WINDOWS_READY", f"{P}GETTING_READY", f"{P}PREPARING_CONFIGURE_WINDOWS",
           f"{P}WORKING_ON_FEATURES"]
UNDEPLOYABLE = [f"{P}WINDOWS_COULD_NOT_FINISH_CONFIGURING_THE_SYSTEM", f"{P}WINDOWS_COULD_NOT_COMPLETE_INSTALLATION"]
GRUB = [f"{P}GRUB_PROMPT", f"{P}GRUB_RESCUE_PROMPT"]
PENDING = {"servicing.pending_xml": True, "servicing.pending": True,
           "servicing.packages_pending": ["Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2227.1.7"]}
INCOMPLETE_FEATURE_CHANGE = ("2024-03-01 09:47:00 turn on update NetFx3 of package Microsoft-Windows-NetFx3-OnDemand-"
                             "Package: initiated, not completed (client DISM Package Manager Provider)")
GENERALIZED_FIRST_BOOT = {"image_state": "IMAGE_STATE_UNDEPLOYABLE", "image_state.oobe_pending": True,
                          "setup.in_progress": True, "setup.cmdline_windeploy": True}
LINUX = {fact: None for fact in HEALTHY} | {"linux.root": True}

# name: (facts changed from HEALTHY, the tied set expected first in the diagnosis, its confidence)
FIRES: dict[str, tuple[dict[str, Any], list[str], str]] = {
    "cleanup-profiles-2012-r2": ({"policy.cleanup_profiles": 30, "os.build": 9600}, CLEANUP, "high"),
    "cleanup-profiles-2012": ({"policy.cleanup_profiles": 0, "os.build": 9200}, CLEANUP, "high"),  # 0 exists
    "cleanup-profiles-2022": ({"policy.cleanup_profiles": 30}, CLEANUP, "low"),
    "cleanup-profiles-build-unknown": ({"policy.cleanup_profiles": 30, "os.build": None}, CLEANUP, "low"),
    "safe-boot-minimal": ({"bcd.safeboot": 0}, [f"{P}LOADING_WINDOWS_FILES"], "high"),
    "safe-boot-network-gen2": ({"bcd.safeboot": 1, "bcd.location": "ESP:\\EFI\\Microsoft\\Boot\\BCD"},
                               [f"{P}LOADING_WINDOWS_FILES"], "high"),
    "packages-pending": (PENDING, UPDATES, "medium"),
    "feature-change-never-completed": (PENDING | {"servicing.feature_events": [INCOMPLETE_FEATURE_CHANGE]},
                                       [f"{P}WORKING_ON_FEATURES"], "high"),
    "reboot-pending-only": ({"servicing.reboot_pending": True, "servicing.pending": True}, UPDATES, "low"),
    "volume-full": ({"volume.free_bytes": 500_000_000, "volume.free_percent": 0.37},
                    [f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"], "high"),
    "volume-nearly-full": ({"volume.free_bytes": 1_500_000_000, "volume.free_percent": 1.1},
                           [f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"], "medium"),
    "sql-failed-generalize": (GENERALIZED_FIRST_BOOT | {"sql.installed": True, "sql.instances": ["MSSQLSERVER"],
                                                        "sysprep.GeneralizationState": 3,
                                                        "sysprep.succeeded_tag": False},
                              [f"{P}OOBE_SQL"], "high"),
    "sql-in-setup": (GENERALIZED_FIRST_BOOT | {"sql.installed": True}, [f"{P}OOBE_SQL"], "medium"),
    "upgrade-waiting": ({"upgrade.windows_bt": True, "setup.in_progress": True}, [f"{P}INPLACE_UPGRADE"], "high"),
    "upgrade-failed": ({"upgrade.windows_bt": True, "upgrade.setupdiag_results": True},
                       [f"{P}INPLACE_UPGRADE"], "medium"),
    "linux": (LINUX, GRUB, "low"),
    "undeployable-with-setup-errors": (GENERALIZED_FIRST_BOOT | {"logs.panther_setuperr": 2}, UNDEPLOYABLE, "high"),
    "undeployable": (GENERALIZED_FIRST_BOOT, UNDEPLOYABLE, "medium"),
    "oobe": ({"image_state": "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE", "image_state.oobe_pending": True,
              "setup.in_progress": True, "setup.OOBEInProgress": 1, "setup.cmdline_windeploy": True,
              "pa.unattend_wsf": False}, [f"{P}OOBE"], "high"),
    "provisioning-agent": ({"image_state": "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE", "image_state.oobe_pending": True,
                            "setup.in_progress": True, "pa.error_handler_last": True},
                           [f"{P}PROVISIONING_AGENT"], "high"),
    "custom-answer-file": (GENERALIZED_FIRST_BOOT | {"answer_files.custom": ["C:\\unattend.xml"]},
                           [f"{P}COMPUTER_RESTARTED_UNEXPECTEDLY_OR_ENCOUNTERED_AN_UNEXPECTED_ERROR"], "high"),
}

# name: (facts changed from HEALTHY, the article that must not match)
NEAR_MISSES: dict[str, tuple[dict[str, Any], str]] = {
    "cleanup-build-2012-r2-without-the-policy": ({"os.build": 9600}, CLEANUP[0]),
    "cleanup-policy-unreadable": ({"policy.cleanup_profiles": None, "os.build": 9600}, CLEANUP[0]),
    "safe-boot-absent": ({"bcd.location": "ESP:\\EFI\\Microsoft\\Boot\\BCD"}, f"{P}LOADING_WINDOWS_FILES"),
    "servicing-not-pending": ({"servicing.pending": False, "servicing.packages_pending": []}, UPDATES[0]),
    "feature-events-without-pending-servicing": ({"servicing.feature_events": ["NetFx3: Install Pending"]},
                                                 f"{P}WORKING_ON_FEATURES"),
    "free-space-5-percent-of-a-big-disk": ({"volume.free_bytes": 6_800_000_000, "volume.free_percent": 4.99},
                                           f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"),
    "free-space-exactly-1-percent": ({"volume.free_bytes": 2_500_000_000, "volume.free_percent": 1.0},
                                     f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"),
    "free-space-unknown": ({"volume.free_bytes": None, "volume.free_percent": None},
                           f"{P}WINDOWS_UPDATE_INSTALLATION_CAPACITY"),
    "sql-on-a-healthy-disk": ({"sql.installed": True, "sql.instances": ["MSSQLSERVER"]}, f"{P}OOBE_SQL"),
    "generalized-first-boot-without-sql": (GENERALIZED_FIRST_BOOT, f"{P}OOBE_SQL"),
    "upgrade-folder-left-after-a-finished-upgrade": ({"upgrade.windows_bt": True}, f"{P}INPLACE_UPGRADE"),
    "setup-in-progress-without-upgrade-folder": ({"setup.in_progress": True}, f"{P}INPLACE_UPGRADE"),
    "domain-controller-without-screen-text": ({"dc.ntds_database": "C:\\Windows\\NTDS\\ntds.dit"},
                                              f"{P}DEFAULT_DOMAIN_CONTROLLERS_POLICY"),
    "linux-root-false": ({"linux.root": False}, GRUB[0]),
    "undeployable-with-error-handler": (GENERALIZED_FIRST_BOOT | {"pa.error_handler_last": True}, UNDEPLOYABLE[0]),
    "oobe-with-error-handler": ({"setup.OOBEInProgress": 1, "pa.error_handler_last": True}, f"{P}OOBE"),
    "provisioning-agent-finished": ({"pa.error_handler_last": False}, f"{P}PROVISIONING_AGENT"),
    "answer-file-absent": (GENERALIZED_FIRST_BOOT,
                           f"{P}COMPUTER_RESTARTED_UNEXPECTEDLY_OR_ENCOUNTERED_AN_UNEXPECTED_ERROR"),
}


def diagnosed(changes: dict[str, Any], screen_text: str | None = None) -> Diagnosis:
    return diagnose(CATALOG, EvidenceSet(facts=HEALTHY | changes), screen_text)


def test_a_healthy_disk_gives_no_article() -> None:
    diagnosis = diagnosed({})
    assert diagnosis.matches == [] and diagnosis.state == "healthy"


def test_a_healthy_domain_controller_with_a_memory_dump_gives_no_article() -> None:
    diagnosis = diagnosed({"dc.ntds_database": "C:\\Windows\\NTDS\\ntds.dit", "dump.memory_dmp": True,
                           "dump.crash_dump_enabled": 1, "dump.nmi_crash_dump": 1})
    assert diagnosis.matches == [] and diagnosis.state == "healthy"


@pytest.mark.parametrize("name", FIRES)
def test_each_rule_fires_with_its_tie(name: str) -> None:
    changes, tied, confidence = FIRES[name]
    diagnosis = diagnosed(changes)
    assert [match.article.id for match in diagnosis.tied] == tied
    assert {match.confidence for match in diagnosis.tied} == {confidence}
    assert [match.article.id for match in diagnosis.matches[:len(tied)]] == tied
    assert all(match.disk_evidence and not match.named_by_screen for match in diagnosis.tied)


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_each_near_miss_does_not_fire(name: str) -> None:
    changes, article_id = NEAR_MISSES[name]
    assert article_id not in {match.article.id for match in diagnosed(changes).matches}


def test_every_article_with_rules_is_fired_by_a_case_here() -> None:
    fired = {article for _, tied, _ in FIRES.values() for article in tied}
    fired.add(f"{P}DEFAULT_DOMAIN_CONTROLLERS_POLICY")  # with the screen text: tested below
    with_rules = {article.id for article in CATALOG if article.kind == "article" and article.rules}
    assert with_rules == fired
    assert len(with_rules) >= 20
    missed = {article for _, article in NEAR_MISSES.values()}
    assert with_rules - missed <= set(CLEANUP[1:] + UPDATES[1:] + UNDEPLOYABLE[1:] + GRUB[1:])  # same rules


def test_the_domain_controller_article_needs_its_screen_text() -> None:
    dc = {"dc.ntds_database": "C:\\Windows\\NTDS\\ntds.dit", "dump.memory_dmp": True}
    named = diagnosed(dc, "Default Domain Controllers Policy")
    assert [(m.article.id, m.confidence, m.disk_evidence) for m in named.tied] == \
        [(f"{P}DEFAULT_DOMAIN_CONTROLLERS_POLICY", "medium", True)]
    assert named.best.facts["dc.ntds_database"] == "C:\\Windows\\NTDS\\ntds.dit"
    assert named.best.facts["dump.memory_dmp"] is True  # a remedy fact: Microsoft's steps send the dump
    not_a_dc = diagnosed({}, "Default Domain Controllers Policy")
    assert [(m.article.id, m.confidence, m.disk_evidence) for m in not_a_dc.tied] == \
        [(f"{P}DEFAULT_DOMAIN_CONTROLLERS_POLICY", "low", False)]


def test_the_grub_articles_are_linux_articles() -> None:
    assert {article.id for article in CATALOG if article.platform == "linux"} == set(GRUB)
    diagnosis = diagnose(CATALOG, EvidenceSet(facts={"linux.root": True}))
    assert [match.to_json()["platform"] for match in diagnosis.tied] == ["linux", "linux"]


def test_working_on_features_shows_the_servicing_events_that_name_the_feature() -> None:
    diagnosis = diagnosed(PENDING | {"servicing.feature_events": [INCOMPLETE_FEATURE_CHANGE]})
    assert diagnosis.best.article.id == f"{P}WORKING_ON_FEATURES" and diagnosis.best.confidence == "high"
    assert diagnosis.best.facts["servicing.feature_events"] == [INCOMPLETE_FEATURE_CHANGE]


def test_the_undeployable_pair_has_no_unsupported_split() -> None:
    """No source tells the two apart on the disk (azure-articles.md §8): whatever the Setup logs say, they tie."""
    for logs in ({"logs.panther_setuperr": 1}, {"logs.unattendgc_setupact": 1},
                 {"logs.panther_setuperr": 1, "logs.unattendgc_setupact": 3}, {}):
        diagnosis = diagnosed(GENERALIZED_FIRST_BOOT | logs)
        assert [match.article.id for match in diagnosis.tied] == UNDEPLOYABLE, logs


@pytest.mark.parametrize("name", [name for name, (_, tied, _) in FIRES.items() if len(tied) > 1])
def test_each_article_s_screen_text_resolves_its_tie(name: str) -> None:
    changes, tied, confidence = FIRES[name]
    for article in (item for item in CATALOG if item.id in tied):
        for screen in (article.screen_text, *article.screen_variants):
            diagnosis = diagnosed(changes, screen)
            assert [match.article.id for match in diagnosis.tied] == [article.id], screen
            assert diagnosis.best.confidence == confidence and diagnosis.best.named_by_screen
