"""Microsoft's documented offline fixes of the non-Sysprep articles, end to end on the issue 13 sample disks, into
every output format: CleanupProfiles deleted, the safeboot element deleted from the BCD (Gen1 System Reserved NTFS
and Gen2 FAT32 ESP), and the memory-dump settings written on request. Each copy is verified, re-inspected, and a
second repair of it has nothing left to do; the input is unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MANIFEST, unpack_to
from vhdfix.copy import TARGET_FORMATS
from vhdfix.inspection import inspect
from vhdfix.repair import repair

SAMPLE_FILES = {entry["scenario"]: entry["path"] for entry in MANIFEST["samples"]["files"]}
CLEANUP = "OSStartUp-APPLYING_AUDIT_POLICY_CONFIGURATION_POLICY"
SAFEBOOT = "OSStartUp-LOADING_WINDOWS_FILES"
DC = "OSStartUp-DEFAULT_DOMAIN_CONTROLLERS_POLICY"

# sample: (what repair is told, the article it repairs, the facts of the copy)
CASES = {
    "cleanup-profiles": ({}, CLEANUP, {"policy.cleanup_profiles": None}),
    "safeboot-gen1": ({}, SAFEBOOT, {"bcd.safeboot": None, "bcd.location": "System Reserved:\\Boot\\BCD"}),
    "safeboot-gen2": ({}, SAFEBOOT, {"bcd.safeboot": None, "bcd.location": "ESP:\\EFI\\Microsoft\\Boot\\BCD"}),
    "domain-controller": ({"extended": ["enable-memory-dump"], "screen_text": "Default Domain Controllers Policy"}, DC,
                          {"dump.crash_dump_enabled": 1, "dump.nmi_crash_dump": 1,
                           "dump.dump_file": "%SystemRoot%\\MEMORY.DMP"}),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("samples")
    return {name: unpack_to(FIXTURES / SAMPLE_FILES[name], folder) for name in CASES}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("output_format", TARGET_FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_documented_fix_is_written_verified_and_done(name: str, output_format: str, samples: dict[str, Path],
                                                         tmp_path: Path) -> None:
    asked, article, facts = CASES[name]
    source = samples[name]
    before = digest(source)
    output = tmp_path / f"repaired.{'raw' if output_format == 'raw' else 'vhdx' if output_format == 'vhdx' else 'vhd'}"
    result = repair(source, output, format=output_format, **asked)
    assert result.exit_code == 0, result.message
    assert result.article is not None and result.article.id == article and result.verified
    assert digest(source) == before

    repaired = inspect(output, screen_text=asked.get("screen_text"))
    assert repaired.error is None
    assert {fact: repaired.evidence.get(fact) for fact in facts} == facts
    if not asked:  # the fix itself: the article no longer matches
        assert article not in [match.article.id for match in repaired.diagnosis.matches]

    again = repair(output, tmp_path / "again.vhd", format="vhd-fixed", **asked)
    assert again.exit_code == 1, again.message
    assert not (tmp_path / "again.vhd").exists()
