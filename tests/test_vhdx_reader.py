"""VHDX reader basics: CRC-32C, bounded work when opening large disks, variants and chains."""

from __future__ import annotations

import random
import struct
import uuid
from pathlib import Path

import pytest

from tests.support.vhdx_builder import (
    FULLY_PRESENT,
    PARTIALLY_PRESENT,
    Block,
    MiB,
    VhdxSpec,
    merged_reader,
    read_layout,
    write_bat_entry,
    write_vhdx,
)
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import Truncated

GiB = 1024 * MiB


@pytest.mark.parametrize(("size", "block_size", "most"), [
    (127 * GiB, 32 * MiB, 400_000),  # Hyper-V's default block size: a 32 KiB BAT
    (127 * GiB, MiB, 1_300_000),  # a 1 MiB BAT, read and checked whole at open
    (2048 * GiB, MiB, 400_000),  # a 16 MiB BAT, read lazily
])
def test_large_disks_open_reading_little(tmp_path: Path, size: int, block_size: int, most: int) -> None:
    rng = random.Random(5)
    last = size // block_size - 1
    spec = VhdxSpec(size, block_size=block_size, blocks={0: Block(FULLY_PRESENT, rng.randbytes(4096)),
                                                         last: Block(FULLY_PRESENT, rng.randbytes(4096))})
    write_vhdx(tmp_path / "big.vhdx", spec)
    disk = open_disk(tmp_path / "big.vhdx")
    try:
        assert disk.virtual_size == size and disk.info.block_size == block_size
        assert disk.bytes_read < most
        expected = merged_reader(spec, None)
        for offset in (0, last * block_size, size - 4096, size // 2):
            assert disk.read(offset, 8192) == expected(offset, 8192)
        assert disk.bytes_read < most + 2 * 65536 + 4 * 8192
    finally:
        disk.close()


def test_lazy_bat_chunks_are_checked_when_loaded(tmp_path: Path) -> None:
    size = 2048 * GiB
    spec = VhdxSpec(size, blocks={0: Block(FULLY_PRESENT, b"x" * 4096)})
    path = tmp_path / "big.vhdx"
    write_vhdx(path, spec)
    far = size // MiB - 10
    with open(path, "r+b") as f:
        layout = read_layout(f)
        write_bat_entry(f, layout, layout.bat_index(far), FULLY_PRESENT, 1 << 30)
    disk = open_disk(path)
    try:
        assert disk.read(0, 4) == b"xxxx"
        with pytest.raises(Truncated, match=f"payload block {far} lies past the end"):
            disk.read(far * MiB, 1)
    finally:
        disk.close()


def test_fixed_variant_comes_from_leave_block_allocated(tmp_path: Path) -> None:
    spec = VhdxSpec(4 * MiB, leave_block_allocated=True,
                    blocks={block: Block(FULLY_PRESENT, bytes([block + 1]) * MiB) for block in range(4)})
    write_vhdx(tmp_path / "fixed.vhdx", spec)
    disk = open_disk(tmp_path / "fixed.vhdx")
    assert (disk.info.format, disk.info.variant, disk.info.block_size) == ("vhdx", "fixed", MiB)
    assert disk.read(0, 4 * MiB) == merged_reader(spec, None)(0, 4 * MiB)
    disk.close()


def test_grandchild_chain(tmp_path: Path) -> None:
    rng = random.Random(9)
    base = VhdxSpec(3 * MiB, blocks={block: Block(FULLY_PRESENT, rng.randbytes(MiB)) for block in range(3)})
    middle = VhdxSpec(3 * MiB, parent_locator={"parent_linkage": str(base.data_write_guid),
                                               "relative_path": "..\\base\\base.vhdx"},
                      blocks={1: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset(range(0, 2048, 2)))})
    top = VhdxSpec(3 * MiB, parent_locator={"parent_linkage": f"{{{middle.data_write_guid}}}",
                                            "absolute_win32_path": "C:\\VMs\\middle.avhdx"},
                   blocks={1: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset(range(0, 2048, 3))),
                           2: Block(FULLY_PRESENT, rng.randbytes(MiB))})
    for name, spec in (("base.vhdx", base), ("middle.avhdx", middle), ("top.avhdx", top)):
        write_vhdx(tmp_path / name, spec)
    disk = open_disk(tmp_path / "top.avhdx")
    try:
        expected = merged_reader(top, merged_reader(middle, merged_reader(base, None)))
        assert disk.read(0, 3 * MiB) == expected(0, 3 * MiB)
        assert [Path(link.path).name for link in disk.chain] == ["top.avhdx", "middle.avhdx", "base.vhdx"]
    finally:
        disk.close()


def test_header_and_regions_are_exposed(tmp_path: Path) -> None:
    spec = VhdxSpec(2 * MiB, blocks={0: Block(FULLY_PRESENT, b"a" * 512)})
    write_vhdx(tmp_path / "d.vhdx", spec)
    disk = open_disk(tmp_path / "d.vhdx")
    assert isinstance(disk, VhdxDisk)
    assert uuid.UUID(bytes_le=bytes(disk.header.data_write_guid)) == spec.data_write_guid
    assert disk.header.sequence_number == 2 and disk.header_slot == 2 and disk.log_replayed_entries == 0
    assert sorted((region.file_offset, region.length) for region in disk.regions.values()) == [
        (2 * MiB, MiB), (3 * MiB, MiB)]
    assert disk.block_size == MiB and disk.file_extent(100) == (4 * MiB + 100, MiB - 100)
    assert struct.unpack("<I", disk.read(0, 4))[0] == 0x61616161
    disk.close()
