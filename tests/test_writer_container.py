"""Patching an existing copy through its container: block splits, sector bitmaps, VHDX headers, footers."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.support.vhd_builder import BLOCK_SIZE, VhdSpec, write_vhd
from tests.support.writer_support import copy_of, unpack
from vhdfix.disk import open_disk
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.plan import BytePatch
from vhdfix.writer import apply_patches
from vhdfix.writer.container_patch import map_for_write

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECTORS_PER_BLOCK = BLOCK_SIZE // 512


def test_a_patch_across_dynamic_vhd_blocks_is_split_and_lands_in_both(tmp_path: Path) -> None:
    last, first = SECTORS_PER_BLOCK - 1, SECTORS_PER_BLOCK
    path = tmp_path / "two-blocks.vhd"
    write_vhd(path, VhdSpec(4 * BLOCK_SIZE, b"V" * 16, {last: b"\1" * 512, first: b"\2" * 512}))  # stored reversed
    disk = open_disk(path)
    try:
        pieces = map_for_write(disk, BLOCK_SIZE - 8, 16)
        assert [(p.virtual_offset, p.length) for p in pieces] == [(BLOCK_SIZE - 8, 8), (BLOCK_SIZE, 8)]
        assert pieces[1].file_offset < pieces[0].file_offset  # block 1 is stored before block 0
    finally:
        disk.close()
    footer = path.read_bytes()[-512:]
    assert apply_patches(path, [BytePatch(BLOCK_SIZE - 8, b"\1" * 8 + b"\2" * 8, b"A" * 16, "across")]) == 16
    disk = open_disk(path)
    try:
        assert disk.read(BLOCK_SIZE - 512, 1024) == b"\1" * 504 + b"A" * 16 + b"\2" * 504
    finally:
        disk.close()
    assert path.read_bytes()[-512:] == footer


def _headers(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[offset:offset + 4096] for offset in (64 * 1024, 128 * 1024)]


def test_vhdx_headers_are_updated_twice_as_qemu_does(tmp_path: Path) -> None:
    source = unpack(FIXTURES / "matrix" / "healthy-mbr-vhdx-dynamic.vhdx.xz", tmp_path)
    copy = copy_of(source, tmp_path, "copy.vhdx")
    before = _headers(copy)
    old_sequence = max(struct.unpack_from("<Q", h, 8)[0] for h in before)
    disk = open_disk(copy)
    try:
        offset = 3 * 1024 * 1024 + 512  # inside the Windows volume, a stored block
        old = disk.read(offset, 4)
        assert map_for_write(disk, offset, 4)
    finally:
        disk.close()
    assert apply_patches(copy, []) == 0
    assert _headers(copy) == before  # nothing to write: the headers stay
    apply_patches(copy, [BytePatch(offset, old, b"TEST", "test")])
    after = _headers(copy)
    assert sorted(struct.unpack_from("<Q", h, 8)[0] for h in after) == [old_sequence + 1, old_sequence + 2]
    for header in after:
        assert struct.unpack_from("<I", header, 4)[0] == checksum_with_field_zeroed(header, 4)
        assert header[48:64] == bytes(16)  # no log
        assert header[32:48] not in (before[0][32:48], before[1][32:48])  # a new DataWriteGuid
    assert after[0][16:32] == after[1][16:32] != before[0][16:32]  # one FileWriteGuid for the session
    disk = open_disk(copy)
    try:
        assert disk.header.sequence_number == old_sequence + 2
        assert disk.read(offset, 4) == b"TEST"
    finally:
        disk.close()


def test_a_fixed_vhd_keeps_its_footer(tmp_path: Path) -> None:
    source = unpack(FIXTURES / "matrix" / "healthy-mbr-vhd-fixed.vhd.xz", tmp_path)
    copy = copy_of(source, tmp_path, "copy.vhd")
    footer = copy.read_bytes()[-512:]
    disk = open_disk(copy)
    try:
        old = disk.read(disk.virtual_size - 4, 4)
    finally:
        disk.close()
    apply_patches(copy, [BytePatch(8 * 1024 * 1024 - 4, old, b"LAST", "the last virtual bytes")])
    data = copy.read_bytes()
    assert data[-512:] == footer and data[-516:-512] == b"LAST"
