"""A repair's verification catches a copy damaged after it was written, in every output format.

Each test damages the copy through ``repair``'s ``after_copy`` seam: once the
copy is written and synced, before it is verified. Nothing races. Outside the
plan's patches the block-level proof (``untouched-blocks``) must catch any
changed byte; damage to the container's own structures is caught by reopening
it; a changed byte inside a patch by the writer's structural checks. Every
failure is ``verification-failed`` and leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.samples import PA, sample
from vhdfix.disk import open_disk
from vhdfix.disk.vhd import SparseVhd
from vhdfix.disk.vhd_format import FOOTER_SIZE
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.disk.vhdx_format import BAT_OFFSET_SHIFT, BAT_STATE_MASK, PAYLOAD_BLOCK_FULLY_PRESENT, MiB
from vhdfix.plan import BytePatch
from vhdfix.repair import RepairResult, repair

TARGETS = {"raw": ".raw", "vhd-fixed": ".vhd", "vhd-dynamic": ".vhd", "vhdx": ".vhdx"}
MARKER = b"TITLE SETUP COMPLETE"  # inside Windows\OEM\SetupComplete.cmd, which the repair does not touch
VHDX_BAT = 3 * MiB  # where vhdfix's VHDX writer puts the BAT
VHDX_HEADER_1 = 64 << 10
VHD_DYNAMIC_HEADER, VHD_BAT = 512, 1536  # vhdfix's dynamic VHD layout: footer copy, header, BAT


def file_offset(path: str, virtual_offset: int) -> int | None:
    """Where the byte at ``virtual_offset`` of the image at ``path`` is stored; None where no block holds it."""
    disk = open_disk(path)
    try:
        if isinstance(disk, SparseVhd):
            block, within = divmod(virtual_offset, disk.block_size)
            data_at = disk.block_data_offset(block)
            return None if data_at is None else data_at + within
        if isinstance(disk, VhdxDisk):
            block, within = divmod(virtual_offset, disk.block_size)
            entry = disk.payload_entry(block)
            if entry & BAT_STATE_MASK != PAYLOAD_BLOCK_FULLY_PRESENT:
                return None
            return (entry >> BAT_OFFSET_SHIFT) * MiB + within
        return virtual_offset  # raw and fixed VHD: the file is the disk
    finally:
        disk.close()


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as image:
        image.seek(offset)
        byte = image.read(1)[0]
        image.seek(offset)
        image.write(bytes([byte ^ 0xFF]))


def flip_virtual(virtual_offset: int) -> Callable[[str], None]:
    def damage(path: str) -> None:
        at = file_offset(path, virtual_offset)
        assert at is not None, f"no block of the copy holds virtual offset {virtual_offset}"
        flip(path, at)
    return damage


def swap_first_blocks(bat_at: int, entry_size: int, byteorder: str) -> Callable[[str], None]:
    """Swap the BAT entries of the copy's first two stored blocks: each then reads the other's data."""
    def damage(path: str) -> None:
        with open(path, "r+b") as image:
            image.seek(bat_at)
            table = image.read(4096)
            code = ("<" if byteorder == "little" else ">") + ("Q" if entry_size == 8 else "I")
            stored = [index for index in range(len(table) // entry_size)
                      if _stored(struct.unpack_from(code, table, index * entry_size)[0], entry_size)]
            first, second = stored[:2]
            one = table[first * entry_size:(first + 1) * entry_size]
            two = table[second * entry_size:(second + 1) * entry_size]
            image.seek(bat_at + first * entry_size)
            image.write(two)
            image.seek(bat_at + second * entry_size)
            image.write(one)
    return damage


def _stored(entry: int, entry_size: int) -> bool:
    if entry_size == 4:
        return entry != 0xFFFFFFFF
    return entry & BAT_STATE_MASK == PAYLOAD_BLOCK_FULLY_PRESENT


def flip_file(offset_of: Callable[[str], int]) -> Callable[[str], None]:
    def damage(path: str) -> None:
        flip(path, offset_of(path))
    return damage


def repaired_with(damage: Callable[[str], None], disk: Path, out_dir: Path, fmt: str) -> RepairResult:
    called: list[str] = []

    def after_copy(path: str) -> None:
        called.append(path)
        damage(path)

    out_dir.mkdir(exist_ok=True)
    result = repair(disk, out_dir / f"out{TARGETS[fmt]}", format=fmt, after_copy=after_copy)
    assert len(called) == 1
    assert result.exit_code == 4 and result.error is not None and result.error.code == "verification-failed", \
        result.to_json()
    assert list(out_dir.iterdir()) == []  # nothing left behind, named or not
    payload = result.to_json()
    assert payload["output"]["written"] is False
    assert payload["phases"]["copy"]["bytes_written"] > 0 and "verification" in payload["phases"]
    return result


def failed_checks(result: RepairResult) -> set[str]:
    return {check.name for check in result.checks if check.passed is False}


def virtual_offset_of(disk: Path, needle: bytes) -> int:
    source = open_disk(disk)
    try:
        return source.read(0, source.virtual_size).index(needle)
    finally:
        source.close()


def planned_patches(disk: Path, tmp_path: Path) -> list[BytePatch]:
    result = repair(disk, tmp_path / "planned.vhd", dry_run=True)
    assert result.plan is not None
    return result.plan.patches


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_a_changed_byte_outside_the_patches_is_caught(fmt: str, tmp_path: Path) -> None:
    disk = sample(f"{PA}-gpt-vhdx-dynamic", tmp_path)
    patches = planned_patches(disk, tmp_path)
    size = open_disk(disk).virtual_size
    places = {"file data": virtual_offset_of(disk, MARKER), "zeros before the first partition": (64 << 10) + 7}
    if fmt in ("raw", "vhd-fixed"):
        places["the disk's last byte, a hole"] = size - 1
    for what, offset in places.items():
        assert not any(patch.offset <= offset < patch.end for patch in patches)
        result = repaired_with(flip_virtual(offset), disk, tmp_path / "out", fmt)
        assert failed_checks(result) == {"untouched-blocks"}, (what, result.to_json()["verification"])
        block = offset // MiB * MiB
        assert f"virtual bytes {block}-" in result.message, what


@pytest.mark.parametrize(("fmt", "damage"), [
    ("vhd-fixed", flip_file(lambda path: Path(path).stat().st_size - FOOTER_SIZE + 0x30)),  # the footer's size
    ("vhd-dynamic", flip_file(lambda path: VHD_DYNAMIC_HEADER + 0x30)),  # the dynamic header (reserved bytes)
    ("vhdx", flip_file(lambda path: VHDX_HEADER_1 + 0x100)),  # header 1 (reserved bytes)
    ("vhd-dynamic", swap_first_blocks(VHD_BAT, 4, "big")),
    ("vhdx", swap_first_blocks(VHDX_BAT, 8, "little")),
], ids=["vhd-fixed-footer", "vhd-dynamic-header", "vhdx-header", "vhd-dynamic-bat", "vhdx-bat"])
def test_damage_to_the_container_is_caught(fmt: str, damage: Callable[[str], None], tmp_path: Path) -> None:
    disk = sample(f"{PA}-gpt-vhdx-dynamic", tmp_path)
    result = repaired_with(damage, disk, tmp_path / "out", fmt)
    assert failed_checks(result) & {"reopen", "untouched-blocks"}, result.to_json()["verification"]


def test_a_changed_byte_inside_a_patch_is_caught_by_the_structural_checks(tmp_path: Path) -> None:
    """The block-level proof leaves patched bytes out; the writer's checks read what the patches wrote."""
    disk = sample(f"{PA}-gpt-vhdx-dynamic", tmp_path)
    patches = planned_patches(disk, tmp_path)
    assert len(patches) >= 3
    for patch in patches:
        changed = next(index for index, (old, new) in enumerate(zip(patch.old, patch.new, strict=True)) if old != new)
        result = repaired_with(flip_virtual(patch.offset + changed), disk, tmp_path / "out", "vhd-dynamic")
        failed = failed_checks(result)
        assert "untouched-blocks" not in failed and failed & {"writer", "untouched-files", "diagnosis"}, \
            (patch.reason, result.to_json()["verification"])


@pytest.mark.parametrize(("kind", "fmt", "kernel"), [
    ("vhdx", "raw", True), ("vhdx", "vhd-fixed", True), ("vhd-fixed", "raw", True), ("vhdx", "vhdx", False),
    ("vhd-dynamic", "raw", False)])
def test_the_kernel_copies_what_both_files_store_contiguously(kind: str, fmt: str, kernel: bool,
                                                               tmp_path: Path) -> None:
    """Raw and fixed VHD outputs take unpatched pieces that a raw, fixed VHD or VHDX input stores whole straight
    from the input file (os.copy_file_range); the block-level proof covers them like any other byte."""
    names = {"vhdx": f"{PA}-gpt-vhdx-dynamic", "vhd-fixed": f"{PA}-gpt-vhd-fixed", "vhd-dynamic": f"{PA}.vhd"}
    disk = sample(names[kind], tmp_path)
    result = repair(disk, tmp_path / f"out{TARGETS[fmt]}", format=fmt)
    assert result.exit_code == 0 and result.copy is not None, result.to_json()
    copied = result.to_json()["output"]["kernel_copied"]
    assert (copied > 0) == kernel and copied <= result.copy.bytes_written
    assert all(check.passed is not False for check in result.checks)


def test_where_the_kernel_cannot_copy_the_copy_is_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    result = repair(sample(f"{PA}-gpt-vhdx-dynamic", tmp_path), tmp_path / "out.raw", format="raw")
    assert result.exit_code == 0 and result.copy is not None and result.copy.kernel_copied == 0, result.to_json()
    assert {check.name: check.passed for check in result.checks}["untouched-blocks"] is True
