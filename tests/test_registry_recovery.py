"""Log recovery on real hives against ground truth (realdata PROVENANCE.txt, "Expected results").

Needs VHDFIX_REALDATA (the shared realdata folder); skipped without it. Files are read in place.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import read_realdata
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.recovery import RecoveryResult, recover

pytestmark = pytest.mark.realdata

YARP = "msuhanov+yarp/hives_for_tests"
REGIPY = "mkorman90+regipy/regipy_tests/data"
WINDOWS10_RECOVERED_MD5 = "8d59afa13b7e6502168c5760224e16aa"
OLD_DIRTY_MD5 = "0f479cc79b3c5da8340df7264b6f3f40"


def logs(*relative: str) -> list[tuple[str, bytes]]:
    return [(Path(name).name, read_realdata(name)) for name in relative]


def hbins_md5(result: RecoveryResult) -> str:
    return hashlib.md5(result.data[4096:]).hexdigest()


def assert_clean_base_block(result: RecoveryResult, sequence: int) -> None:
    base = read_base_block(result.data)
    assert base.valid
    assert not base.is_dirty
    assert base.primary_sequence_number == sequence
    assert base.file_type == 0


@pytest.mark.parametrize("reverse", [False, True])
def test_new_dirty_hive_1_matches_windows(reverse: bool) -> None:
    names = [f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG1", f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG2"]
    result = recover(read_realdata(f"{YARP}/NewDirtyHive1/NewDirtyHive"), logs(*(names[::-1] if reverse else names)))
    assert result.state == "recovered"
    assert result.entries_applied == 4
    assert hbins_md5(result) == WINDOWS10_RECOVERED_MD5
    assert result.data[4096:] == read_realdata(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10")[4096:]
    by_name = {report.name: report for report in result.logs}
    assert by_name["NewDirtyHive.LOG1"].entries_applied == 1  # entry 2
    assert by_name["NewDirtyHive.LOG2"].entries_applied == 3  # entries 3, 4, 5
    assert_clean_base_block(result, 5)
    assert result.warnings == ()


def test_new_dirty_hive_2_uses_log2_only() -> None:
    result = recover(read_realdata(f"{YARP}/NewDirtyHive2/NewDirtyHive"),
                     logs(f"{YARP}/NewDirtyHive2/NewDirtyHive.LOG1", f"{YARP}/NewDirtyHive2/NewDirtyHive.LOG2"))
    assert result.entries_applied == 3
    assert hbins_md5(result) == WINDOWS10_RECOVERED_MD5
    assert [(report.status, report.entries_applied) for report in result.logs] == [("unused", 0), ("applied", 3)]
    assert_clean_base_block(result, 5)


def test_old_dirty_hive() -> None:
    result = recover(read_realdata(f"{YARP}/OldDirtyHive/OldDirtyHive"),
                     logs(f"{YARP}/OldDirtyHive/OldDirtyHive.LOG1", f"{YARP}/OldDirtyHive/OldDirtyHive.LOG2"))
    assert result.state == "recovered"
    assert result.entries_applied == 1
    assert hbins_md5(result) == OLD_DIRTY_MD5
    assert [report.status for report in result.logs] == ["applied", "empty"]
    assert_clean_base_block(result, 5)


def test_old_log_with_remnant_data_after_the_pages() -> None:
    result = recover(read_realdata(f"{YARP}/OldDirtyHive/OldDirtyHive"), logs(f"{YARP}/OldLogWithRemnantData"))
    assert hbins_md5(result) == OLD_DIRTY_MD5


def test_bad_base_block_is_rebuilt_from_the_log() -> None:
    """BadBaseBlockHive is OldDirtyHive with "INVL" as base block checksum and minor version 1.

    regf spec, 'Old format' / 'Base block', note 4: a primary base block with a
    wrong checksum is recovered from the log, then the log applies (the
    first hive bin's timestamp is older than the log's, which yarp, the
    reference, accepts). The result equals OldDirtyHive's recovery.
    """
    primary = read_realdata(f"{YARP}/BadBaseBlockHive/BadBaseBlockHive")
    before = bytes(primary)
    result = recover(primary, logs(f"{YARP}/BadBaseBlockHive/BadBaseBlockHive.LOG1",
                                   f"{YARP}/BadBaseBlockHive/BadBaseBlockHive.LOG2"))
    assert primary == before
    assert result.state == "recovered"
    assert hbins_md5(result) == OLD_DIRTY_MD5
    assert read_base_block(result.data).minor_version == 3
    assert_clean_base_block(result, 5)


@pytest.mark.parametrize(("folder", "reasons"), [
    ("BadLogHive1", ["bad checksum"]),
    ("BadLogHive2", ["no dirty vector (DIRT) signature at offset 512"]),
    ("BadLogHive3", ["bad checksum", "bad checksum"]),
])
def test_bad_logs_are_rejected(folder: str, reasons: list[str]) -> None:
    primary = read_realdata(f"{YARP}/{folder}/BadLogHive")
    before = bytes(primary)
    result = recover(primary, logs(f"{YARP}/{folder}/BadLogHive.LOG1", f"{YARP}/{folder}/BadLogHive.LOG2"))
    assert primary == before
    assert result.state == "dirty-no-log"
    assert result.data == before
    assert result.entries_applied == 0
    rejected = [report.detail for report in result.logs if report.status == "rejected"]
    assert rejected == reasons
    assert f"BadLogHive.LOG1 rejected: {reasons[0]}" in result.warnings
    assert "no transaction log could be applied" in result.warnings[-1]


def test_clean_hive_with_stale_logs_is_untouched() -> None:
    primary = read_realdata(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10")
    stale = logs(f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG1", f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG2")
    result = recover(primary, stale)
    assert result.state == "clean"
    assert result.data == primary
    assert result.entries_applied == 0
    assert result.max_sequence == 6
    assert all(report.status == "unused" for report in result.logs)


def test_dirty_hive_without_logs() -> None:
    primary = read_realdata(f"{REGIPY}/SYSTEM_WIN_10_1709.xz")
    result = recover(primary, [])
    assert result.state == "dirty-no-log"
    assert result.data == primary
    assert result.max_sequence == 4317
    assert len(result.warnings) == 1
    assert "4317/4316" in result.warnings[0]
    assert "no transaction log was supplied" in result.warnings[0]


@pytest.mark.parametrize(("hive", "log_names", "entries", "md5", "last"), [
    ("SYSTEM_B.xz", ["SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG2.xz"], 24, "4883c762e6414dd7b8c48e10c4be08cb", 2130),
    ("UsrClass.dat.xz", ["UsrClass.dat.LOG1.xz", "UsrClass.dat.LOG2.xz"], 14, "c371c909438831d24b07e45c465cc3d8", 300),
    ("transactions_NTUSER.DAT.xz", ["transactions_ntuser.dat.log1.xz", "transactions_ntuser.dat.log2.xz"], 23,
     "d67c801ebf373c32e1b057c7aa92070f", 588),
])
def test_real_new_format_logs(hive: str, log_names: list[str], entries: int, md5: str, last: int) -> None:
    primary = read_realdata(f"{REGIPY}/{hive}")
    log_data = logs(*(f"{REGIPY}/{name}" for name in log_names))
    before = [bytes(primary)] + [bytes(data) for _, data in log_data]
    result = recover(primary, log_data)
    assert result.state == "recovered"
    assert result.entries_applied == entries
    assert hbins_md5(result) == md5
    assert result.max_sequence == last
    assert_clean_base_block(result, last)
    assert [bytes(primary)] + [bytes(data) for _, data in log_data] == before
    assert result.warnings == ()
