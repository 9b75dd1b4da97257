"""Registry values changed in place: DWORD, REG_SZ shrink and empty, the commit rule, dirty hives, refusals."""

from __future__ import annotations

import io
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dissect.regf import regf

from tests.support.writer_support import CASES, copy_of, dword, set_step, string, unpack, write_into_file, writer_cases
from vhdfix.diagnosis.actions import SetValues, ValueSetting
from vhdfix.diagnosis.catalog import RemedyStep
from vhdfix.disk import open_disk
from vhdfix.errors import (
    HiveDirty,
    HiveRecoveredImageTooLarge,
    ValueNotFound,
    ValueTooLong,
    ValueTypeMismatch,
)
from vhdfix.registry import recover
from vhdfix.registry.base_block import checksum, read_base_block
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.verify import verify_structures
from vhdfix.writer import apply_patches, open_context, plan_actions
from vhdfix.writer.hive_edit import filetime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
IMAGE_STATE_KEY = "Microsoft\\Windows\\CurrentVersion\\Setup\\State"


def _raw(source: Path, folder: Path) -> Path:
    """The virtual disk of a fixture as a raw file (so tests can byte-patch it)."""
    disk = open_disk(unpack(source, folder))
    try:
        target = folder / f"{source.name.split('.')[0]}.raw"
        target.write_bytes(disk.read(0, disk.virtual_size))
    finally:
        disk.close()
    return target


@pytest.fixture(scope="module")
def pa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _raw(FIXTURES / "provisioning-agent.vhd", tmp_path_factory.mktemp("pa"))


def _apply(source: Path, tmp_path: Path, *steps: object, **options: object) -> tuple[Path, object]:
    copy = copy_of(source, tmp_path, "copy.raw")
    with open_context(source) as context:
        planned = plan_actions(context, list(steps), now=WHEN, **options)  # type: ignore[arg-type]
    apply_patches(copy, planned.patches, original=source)
    verify_structures(copy, planned.expectations)
    return copy, planned


def _hive_file(image: Path, name: str) -> bytes:
    with open_context(image) as context:
        data, _ = context.ntfs.read_file(f"Windows\\System32\\config\\{name}", 1 << 30)
    return data


def _value(image: bytes, key: str, name: str) -> tuple[int, int, bytes]:
    """(raw data size field, data type, data) through vhdfix's cell walker."""
    paths = KeyPaths.strict("hive", image)
    found = paths.find_key(key)
    assert found is not None
    value = paths.find_value(found[0], name, key)
    assert value is not None
    return value.data_size, value.data_type, paths.cells.value_data(value, key)


def test_dwords_change_four_bytes_each_and_the_base_block_is_committed(pa: Path, tmp_path: Path) -> None:
    before = _hive_file(pa, "SYSTEM")
    copy, planned = _apply(pa, tmp_path, set_step("setup", dword("SYSTEM", "Setup", "SetupType", 0),
                                                  dword("SYSTEM", "Setup", "OOBEInProgress", 0)))
    after = _hive_file(copy, "SYSTEM")
    changed = [i for i in range(len(before)) if before[i] != after[i]]
    paths = KeyPaths.strict("s", before)
    vk_data = [paths.find_value(paths.find_key("Setup")[0], name, "Setup") for name in ("SetupType", "OOBEInProgress")]
    # Only the base block's sequence numbers, timestamp and checksum, and one byte of each DWORD (2 -> 0, 1 -> 0).
    assert [i for i in changed if i >= 4096] == sorted(v.file_offset + 8 for v in vk_data)
    assert all(i < 512 for i in changed if i < 4096)
    base = read_base_block(after)
    assert base.valid and not base.is_dirty
    assert base.primary_sequence_number == base.secondary_sequence_number == 813  # 812/812 before
    assert base.last_written_timestamp == filetime(WHEN)
    assert struct.unpack_from("<I", after, 508)[0] == checksum(after)
    assert _value(after, "Setup", "SetupType")[2] == b"\0\0\0\0"
    assert planned.expectations.hives[0].sequence == 813


def test_reg_sz_shrinks_inside_its_cell_and_zeroes_the_old_tail(pa: Path, tmp_path: Path) -> None:
    before = _hive_file(pa, "SOFTWARE")
    size, _, old = _value(before, IMAGE_STATE_KEY, "ImageState")
    assert old.decode("utf-16-le") == "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE\0" and size == len(old)
    copy, _ = _apply(pa, tmp_path, set_step("state", string("SOFTWARE", IMAGE_STATE_KEY, "ImageState",
                                                            "IMAGE_STATE_COMPLETE")))
    after = _hive_file(copy, "SOFTWARE")
    new_size, kind, new = _value(after, IMAGE_STATE_KEY, "ImageState")
    assert (new_size, kind, new) == (42, 1, "IMAGE_STATE_COMPLETE\0".encode("utf-16-le"))
    paths = KeyPaths.strict("s", after)
    value = paths.find_value(paths.find_key(IMAGE_STATE_KEY)[0], "ImageState", "k")
    cell = paths.cells.cell(value.data_offset, "data")
    assert bytes(cell[42:len(old)]) == bytes(len(old) - 42)  # the old tail is zeroed; the cell keeps its size
    hive = regf.RegistryHive(io.BytesIO(after))
    assert hive.open(IMAGE_STATE_KEY).value("ImageState").value == "IMAGE_STATE_COMPLETE"
    with open_context(copy) as context:
        assert context.hive("SOFTWARE").hive.value(IMAGE_STATE_KEY, "imagestate").value == "IMAGE_STATE_COMPLETE"


def test_an_empty_reg_sz_keeps_its_cell_with_two_zero_bytes(pa: Path, tmp_path: Path) -> None:
    copy, _ = _apply(pa, tmp_path, set_step("cmd", string("SYSTEM", "Setup", "CmdLine", "")))
    after = _hive_file(copy, "SYSTEM")
    size, kind, data = _value(after, "Setup", "CmdLine")
    assert (size, kind, data) == (2, 1, b"\0\0")  # encoding (A): never size 0 with a cell offset
    assert regf.RegistryHive(io.BytesIO(after)).open("Setup").value("CmdLine").value == ""
    with open_context(copy) as context:
        assert context.hive("SYSTEM").hive.value("Setup", "CmdLine").value == ""


def test_an_inline_string_stays_inline(tmp_path: Path) -> None:
    healthy = _raw(FIXTURES / "healthy.vhd.xz", tmp_path)
    assert _value(_hive_file(healthy, "SYSTEM"), "Setup", "CmdLine")[0] == 0x80000002
    copy, _ = _apply(healthy, tmp_path, set_step("cmd", string("SYSTEM", "Setup", "CmdLine", "a")))
    assert _value(_hive_file(copy, "SYSTEM"), "Setup", "CmdLine") == (0x80000004, 1, b"a\0\0\0")
    with open_context(healthy) as context, pytest.raises(ValueTooLong) as refused:
        plan_actions(context, [set_step("cmd", string("SYSTEM", "Setup", "CmdLine", "ab"))])
    assert refused.value.code == "value-too-long"


@pytest.mark.parametrize(("value", "error"), [
    (string("SYSTEM", "Setup", "CmdLine", "x" * 40), ValueTooLong),
    (string("SYSTEM", "Setup", "SetupType", "0"), ValueTypeMismatch),
    (dword("SYSTEM", "Setup", "CmdLine", 0), ValueTypeMismatch),
    (dword("SYSTEM", "Setup", "NoSuchValue", 0), ValueNotFound),
    (dword("SYSTEM", "No\\Such\\Key", "SetupType", 0), ValueNotFound),
], ids=["too-long", "sz-over-dword", "dword-over-sz", "no-value", "no-key"])
def test_values_that_need_allocation_or_a_type_change_are_refused(pa: Path, value: dict, error: type) -> None:
    with open_context(pa) as context, pytest.raises(error) as refused:
        plan_actions(context, [set_step("x", value)])
    assert refused.value.code == error.code


def test_a_number_that_is_no_dword_is_refused_even_past_the_catalogue(pa: Path) -> None:
    """The catalogue refuses such an article; the writer's own gate holds for an action built in Python."""
    action = SetValues((ValueSetting("SYSTEM", "Setup", "SetupType", -1, "REG_DWORD"),))
    with open_context(pa) as context, pytest.raises(ValueTypeMismatch):
        plan_actions(context, [RemedyStep("x", "test step", True, "tests", action)])


def test_values_already_set_give_notes_and_no_commit(pa: Path) -> None:
    with open_context(pa) as context:
        computer_name = "CurrentControlSet\\Control\\ComputerName\\ComputerName"
        planned = plan_actions(context, [set_step("x", string("SYSTEM", "Setup", "CmdLine", "oobe\\windeploy.exe"),
                                                  string("SYSTEM", computer_name, "ComputerName", "VMAPP01"))])
    assert planned.patches == [] and planned.expectations.hives == ()
    assert planned.notes["x"] == ["SYSTEM\\Setup\\CmdLine is already 'oobe\\\\windeploy.exe'",
                                  "SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName\\ComputerName is "
                                  "already 'VMAPP01'"]


def test_a_dirty_hive_is_recovered_under_the_edit(tmp_path: Path) -> None:
    dirty = _raw(FIXTURES / "provisioning-agent-dirty-hive.vhd.xz", tmp_path)
    primary = _hive_file(dirty, "SYSTEM")
    log1 = _hive_file(dirty, "SYSTEM.LOG1")
    assert (read_base_block(primary).primary_sequence_number, read_base_block(primary).secondary_sequence_number) \
        == (1001, 1000)
    assert _value(primary, "Setup", "CmdLine")[2] == b"\0\0"  # the stale primary holds the healthy values
    copy, planned = _apply(dirty, tmp_path, set_step("setup", dword("SYSTEM", "Setup", "SetupPhase", 0)))
    assert planned.expectations.hives[0].recovered
    assert any("write back the hive recovered from SYSTEM.LOG1 (2 entries)" in p.reason
               for p in planned.patches)
    after = _hive_file(copy, "SYSTEM")
    base = read_base_block(after)
    assert base.primary_sequence_number == base.secondary_sequence_number == 1003  # above entries 1001, 1002
    assert _value(after, "Setup", "SetupPhase")[2] == b"\0\0\0\0"  # the edit
    assert _value(after, "Setup", "CmdLine")[2] == "oobe\\windeploy.exe\0".encode("utf-16-le")  # from the log
    assert _value(after, "Setup", "OOBEInProgress")[2] == b"\1\0\0\0"  # from entry 1002
    # Windows' own recovery, simulated with the old logs, leaves the result alone: it is clean.
    again = recover(after, [("SYSTEM.LOG1", log1), ("SYSTEM.LOG2", b"")])
    assert again.state == "clean" and again.data == after
    assert len(after) == len(primary)


def test_a_dirty_hive_whose_recovered_image_does_not_fit_is_refused(tmp_path: Path) -> None:
    volume = writer_cases(tmp_path)
    with open_context(volume) as context:
        assert context.hive("SYSTEM").hive.state == "recovered"
        with pytest.raises(HiveRecoveredImageTooLarge) as refused:
            plan_actions(context, [set_step("x", dword("SYSTEM", "Setup", "SetupType", 0))])
    assert refused.value.code == "hive-recovered-image-too-large"
    assert "16384 bytes, the file holds 8192" in refused.value.message
    assert CASES["dirty_hive_too_large"] == "SYSTEM"


def _patch_base_block(image: Path, name: str, edit: object) -> None:
    block = bytearray(_hive_file(image, name)[:512])
    edit(block)  # type: ignore[operator]
    struct.pack_into("<I", block, 508, checksum(block))
    write_into_file(image, f"Windows\\System32\\config\\{name}", 0, bytes(block))


def test_a_dirty_hive_without_a_usable_log_is_refused(pa: Path, tmp_path: Path) -> None:
    image = copy_of(pa, tmp_path, "dirty.raw")
    _patch_base_block(image, "SYSTEM", lambda b: struct.pack_into("<I", b, 4, 900))  # 900/812, LOG1 is empty
    with open_context(image) as context, pytest.raises(HiveDirty) as refused:
        plan_actions(context, [set_step("x", dword("SYSTEM", "Setup", "SetupType", 0))])
    assert refused.value.code == "hive-dirty"


def test_the_ktm_flag_alone_is_a_warning_in_the_plan(pa: Path, tmp_path: Path) -> None:
    """Every Windows 10 SYSTEM hive has base-block flag 0x1 (write-path.md §6.5): edited, with a note."""
    image = copy_of(pa, tmp_path, "ktm.raw")
    _patch_base_block(image, "SYSTEM", lambda b: struct.pack_into("<I", b, 144, 1))
    with open_context(image) as context:
        planned = plan_actions(context, [set_step("x", dword("SYSTEM", "Setup", "SetupType", 0))])
        unchanged = plan_actions(context, [set_step("y", dword("SYSTEM", "Setup", "SetupType", 2))])
    assert planned.patches
    assert any("KTM flag" in note and "config\\TxR" in note for note in planned.notes["x"])
    assert unchanged.notes["y"] == ["SYSTEM\\Setup\\SetupType is already 2"]  # no warning when nothing is written
