"""The issue 13 sample disks (fixtures/samples/) give their contract facts, each backed by evidence that names
its source; the healthy disks give none of the new signals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MANIFEST, unpack_to
from vhdfix.disk import open_disk
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.inspection import Inspection, inspect
from vhdfix.ntfs import NtfsVolume
from vhdfix.partitions import read_partition_table
from vhdfix.registry import open_hive
from vhdfix.report.inspection_text import render_inspection
from vhdfix.report.style import Style
from vhdfix.windows.bcd import find_bcd

SAMPLES = MANIFEST["samples"]["scenarios"]
SAMPLE_FILES = {entry["scenario"]: entry for entry in MANIFEST["samples"]["files"]}
SOFTWARE_CBS = "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing"

# Where each positive fact of a sample must come from: (kind, hive or path, key, value name)
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "cleanup-profiles": {
        "policy.cleanup_profiles": ("registry", "SOFTWARE", "Policies\\Microsoft\\Windows\\System", "CleanupProfiles"),
        "os.build": ("registry", "SOFTWARE", "Microsoft\\Windows NT\\CurrentVersion", "CurrentBuildNumber"),
        "os.product_name": ("registry", "SOFTWARE", "Microsoft\\Windows NT\\CurrentVersion", "ProductName"),
        "os.installation_type": ("registry", "SOFTWARE", "Microsoft\\Windows NT\\CurrentVersion", "InstallationType"),
    },
    "safeboot-gen1": {
        "bcd.location": ("file", "System Reserved:\\Boot\\BCD"),
        "bcd.default_loader": ("registry", "BCD", "Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\23000003",
                               "Element"),
        "bcd.safeboot": ("registry", "BCD", "Elements\\25000080", "Element"),
    },
    "safeboot-gen2": {
        "bcd.location": ("file", "ESP:\\EFI\\Microsoft\\Boot\\BCD"),
        "bcd.safeboot": ("registry", "BCD", "Elements\\25000080", "Element"),
    },
    "pending-updates": {
        "servicing.pending_xml": ("file", "Windows\\WinSxS\\pending.xml"),
        "servicing.reboot_pending": ("registry", "SOFTWARE", f"{SOFTWARE_CBS}\\RebootPending", ""),
        "servicing.packages_pending": ("registry", "SOFTWARE", f"{SOFTWARE_CBS}\\Packages\\Package_for_RollupFix",
                                       "CurrentState"),
    },
    "disk-full": {"volume.free_bytes": ("file", "$Bitmap")},
    "working-on-features": {"servicing.feature_events": ("log", "Windows\\System32\\winevt\\Logs\\Setup.evtx")},
    "oobe-sql": {"sql.instances": ("registry", "SOFTWARE", "Microsoft\\Microsoft SQL Server\\Instance Names\\SQL",
                                   "MSSQLSERVER")},
    "inplace-upgrade": {
        "upgrade.windows_bt": ("file", "$WINDOWS.~BT"),
        "upgrade.setupdiag_results": ("registry", "SYSTEM", "Setup\\SetupDiag\\Results", ""),
    },
    "domain-controller": {
        "dc.ntds_database": ("registry", "SYSTEM", "ControlSet001\\Services\\NTDS\\Parameters", "DSA Database file"),
    },
    "memory-dump": {
        "dump.memory_dmp": ("file", "Windows\\MEMORY.DMP"),
        "dump.crash_dump_enabled": ("registry", "SYSTEM", "ControlSet001\\Control\\CrashControl", "CrashDumpEnabled"),
        "dump.nmi_crash_dump": ("registry", "SYSTEM", "ControlSet001\\Control\\CrashControl", "NMICrashDump"),
        "dump.dump_file": ("registry", "SYSTEM", "ControlSet001\\Control\\CrashControl", "DumpFile"),
    },
    "linux-ext4": {"linux.root": ("file", "partition 1")},
    "healthy-serviced": {},
}

# What a healthy Windows disk must not show: no signal of any of the new articles' causes.
QUIET = {
    "policy.cleanup_profiles": None, "bcd.safeboot": None, "servicing.pending_xml": False,
    "servicing.reboot_pending": False, "sql.installed": False, "upgrade.windows_bt": False,
    "upgrade.setupdiag_results": False, "dc.ntds_database": None, "dump.memory_dmp": False,
}


@pytest.fixture(scope="module")
def inspected_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Inspection]:
    folder = tmp_path_factory.mktemp("issue13-samples")
    return {name: inspect(unpack_to(FIXTURES / entry["path"], folder)) for name, entry in SAMPLE_FILES.items()}


def _matches(value: object, expected: object) -> bool:
    if isinstance(expected, str) and (bound := re.fullmatch(r"< (\d+(?:\.\d+)?)", expected)):
        return isinstance(value, (int, float)) and value < float(bound.group(1))
    return value == expected


def test_every_sample_has_its_disk_and_source_table() -> None:
    assert set(SAMPLES) == set(SAMPLE_FILES) == set(SOURCES)
    for name, scenario in SAMPLES.items():
        assert scenario["expect"], name
        assert all(article.startswith("OSStartUp-") for article in scenario["meant_for"]), name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_gives_its_contract_facts(inspected_samples: dict[str, Inspection], name: str) -> None:
    result = inspected_samples[name]
    assert result.error is None, result.error
    facts = result.evidence.facts
    for fact, expected in SAMPLES[name]["expect"].items():
        assert _matches(facts.get(fact), expected), (fact, facts.get(fact), expected)
    assert not [w for w in result.warnings if "could not be read" in w or "skipped" in w]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_positive_fact_names_its_source(inspected_samples: dict[str, Inspection], name: str) -> None:
    result = inspected_samples[name]
    for fact, source in SOURCES[name].items():
        items = [item.to_json() for item in result.evidence.sources(fact)]
        assert items, fact
        kind, where, *rest = source
        assert any(item["kind"] == kind and (
            item.get("path") == where if kind in ("file", "log") else
            item["hive"] == where and rest[0] in item["key"] and item["name"] == rest[1]) for item in items), items


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_evidence_is_in_the_json_and_the_text_report(inspected_samples: dict[str, Inspection],
                                                            name: str) -> None:
    result = inspected_samples[name]
    payload = json.loads(json.dumps(result.to_json()))
    text = render_inspection(result, Style(False))
    for fact in SOURCES[name]:
        assert fact in payload["facts"]
        for item in result.evidence.sources(fact):
            shown = item.to_json()
            assert shown in payload["evidence"]
            assert str(shown.get("path") or shown.get("key")) in text


def test_safeboot_samples_read_the_bcd_of_their_generation(inspected_samples: dict[str, Inspection]) -> None:
    gen1, gen2 = inspected_samples["safeboot-gen1"], inspected_samples["safeboot-gen2"]
    assert gen1.table.scheme == "mbr" and gen2.table.scheme == "gpt"
    assert gen1.evidence.facts["bcd.safeboot"] == 0 and gen2.evidence.facts["bcd.safeboot"] == 1
    esp = gen2.table.partitions[0]
    assert SAMPLE_FILES["safeboot-gen2"]["partitions"][0]["filesystem"] == "fat32"
    assert esp.size == 34 * 1024 * 1024
    loader = gen2.evidence.facts["bcd.default_loader"]
    assert re.fullmatch(r"\{[0-9a-f-]{36}\}", loader)


def test_feature_events_list_only_changes_that_never_completed(inspected_samples: dict[str, Inspection]) -> None:
    stuck = inspected_samples["working-on-features"].evidence
    (line,) = stuck.facts["servicing.feature_events"]
    assert "DirectoryServices-ADAM-Package-Server" in line and "not completed" in line
    # the healthy disk turned IIS on: event 7, then its success (event 9)
    assert inspected_samples["healthy-serviced"].evidence.facts["servicing.feature_events"] == []


def test_free_space_of_a_full_and_a_roomy_volume(inspected_samples: dict[str, Inspection]) -> None:
    full = inspected_samples["disk-full"].evidence.facts
    roomy = inspected_samples["healthy-serviced"].evidence.facts
    assert full["volume.size_bytes"] == roomy["volume.size_bytes"] == 1279 * 4096
    assert full["volume.free_percent"] < 3 < 25 < roomy["volume.free_percent"]
    assert full["volume.free_bytes"] == round(full["volume.free_percent"] * full["volume.size_bytes"] / 100, -3) \
        or abs(full["volume.free_bytes"] / full["volume.size_bytes"] * 100 - full["volume.free_percent"]) < 0.01


def test_linux_disk_is_evidence_not_an_error(inspected_samples: dict[str, Inspection]) -> None:
    result = inspected_samples["linux-ext4"]
    assert result.windows is None and result.error is None
    assert result.evidence.facts == {"linux.root": True}
    payload = result.to_json()
    assert payload["windows_volume"] is None and payload["facts"] == {"linux.root": True}
    (item,) = payload["evidence"]
    assert item["path"] == "partition 1" and "ext2/3/4 superblock" in item["note"]


@pytest.mark.parametrize("name", ["healthy-serviced"])
def test_healthy_serviced_disk_shows_no_new_signal(inspected_samples: dict[str, Inspection], name: str) -> None:
    facts = inspected_samples[name].evidence.facts
    for fact, quiet in QUIET.items():
        assert facts[fact] == quiet, fact
    assert facts["servicing.feature_events"] == facts["servicing.packages_pending"] == []
    assert facts["servicing.pending"] is False
    assert facts["volume.free_percent"] > 25
    assert facts["bcd.location"] == "System Reserved:\\Boot\\BCD"


@pytest.mark.parametrize("path", ["healthy.vhd.xz", "matrix/healthy-gpt-vhd-dynamic.vhd.xz",
                                  "matrix/healthy-gpt-vhdx-dynamic.vhdx.xz"])
def test_healthy_matrix_disks_show_no_new_signal(tmp_path: Path, path: str) -> None:
    facts = inspect(unpack_to(FIXTURES / path, tmp_path)).evidence.facts
    for fact, quiet in QUIET.items():
        assert facts[fact] == quiet, fact
    # no Setup.evtx and no CBS Packages key on these disks: unknown, not "nothing pending"
    assert facts["servicing.feature_events"] is facts["servicing.packages_pending"] is facts["servicing.pending"] \
        is None
    assert facts["bcd.location"] in ("System Reserved:\\Boot\\BCD", "ESP:\\EFI\\Microsoft\\Boot\\BCD")
    assert facts["bcd.default_loader"] and facts["os.build"] == 20348


def test_gen1_safeboot_is_read_through_the_bcd_log(inspected_samples: dict[str, Inspection], tmp_path: Path) -> None:
    """The element is only in BCD.LOG1: a reader that ignores the log sees a normal boot."""
    result = inspected_samples["safeboot-gen1"]
    assert any("BCD is dirty: 1 transaction-log entries were replayed" in w for w in result.warnings)
    (item,) = result.evidence.sources("bcd.location")
    assert "hive recovered" in item.note
    disk = open_disk(unpack_to(FIXTURES / SAMPLE_FILES["safeboot-gen1"]["path"], tmp_path))
    try:
        bcd, warnings = find_bcd(disk, read_partition_table(disk))
        assert bcd is not None and bcd.partition.number == 1 and warnings == []
        assert bcd.logs == ["BCD.LOG", "BCD.LOG1", "BCD.LOG2"] and bcd.hive is not None
        assert bcd.hive.state == "recovered"
        reserved = disk.read(1024 * 1024, 2 * 1024 * 1024)
    finally:
        disk.close()
    primary = _ntfs_file(reserved, "Boot\\BCD")
    alone = open_hive("BCD", primary, [])
    loader = result.evidence.facts["bcd.default_loader"]
    assert alone.state == "dirty-no-log"
    assert alone.value(f"Objects\\{loader}\\Elements\\25000080", "Element") is None


def _ntfs_file(volume: bytes, path: str) -> bytes:
    stream = ReadOnlyStream(lambda offset, length: volume[offset:offset + length], len(volume))
    found = NtfsVolume(stream, "System Reserved").read_file(path, 1 << 20)
    assert found is not None
    return found[0]
