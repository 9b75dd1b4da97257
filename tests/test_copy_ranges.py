"""Allocated ranges: each reader names the parts of its disk that can hold data, and everything else reads as zeros.

A copy reads only these ranges, so its time grows with the data, not the virtual size.
"""

from __future__ import annotations

import uuid
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.samples import PA, sample
from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import FULLY_PRESENT, PARTIALLY_PRESENT, ZERO, Block, MiB, VhdxSpec, write_vhdx
from vhdfix.disk import Container, open_disk
from vhdfix.disk.container import clip_ranges, merge_ranges

SECTOR = 512


def covered(ranges: list[tuple[int, int]]) -> set[int]:
    return {offset for start, length in ranges for offset in range(start, start + length)}


@given(st.lists(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 30)), max_size=8), max_size=4))
def test_merge_is_the_sorted_disjoint_union(sources: list[list[tuple[int, int]]]) -> None:
    ordered = [sorted(source) for source in sources]
    merged = list(merge_ranges(*ordered))
    assert covered(merged) == set().union(*(covered(source) for source in ordered))
    assert all(length > 0 for _, length in merged)
    for (first, length), (second, _) in pairwise(merged):
        assert first + length < second  # neither overlapping nor touching


def test_clip() -> None:
    assert list(clip_ranges([(0, 10), (20, 10), (40, 5)], 25)) == [(0, 10), (20, 5)]


def assert_zero_outside(disk: Container, ranges: list[tuple[int, int]]) -> None:
    position = 0
    for offset, length in [*ranges, (disk.virtual_size, 0)]:
        assert offset >= position
        gap = disk.read(position, offset - position)
        assert gap == bytes(len(gap)), f"non-zero byte between {position} and {offset}"
        position = offset + length
    assert position <= disk.virtual_size


def ranges_of(path: Path, parents: tuple[Path, ...] = ()) -> tuple[Container, list[tuple[int, int]]]:
    disk = open_disk(path, parents)
    return disk, list(disk.allocated_ranges())


@pytest.mark.parametrize("name", [f"{PA}.vhd", f"{PA}-gpt-vhd-fixed", f"{PA}-gpt-vhdx-dynamic",
                                  f"{PA}-mbr-vhdx-dynamic"])
def test_sample_disks_read_zero_outside_their_ranges(name: str, samples: Path) -> None:
    disk, ranges = ranges_of(sample(name, samples))
    try:
        assert ranges
        assert_zero_outside(disk, ranges)
    finally:
        disk.close()


def test_dynamic_vhd_ranges_are_its_blocks(tmp_path: Path) -> None:
    block = 64 * 1024
    sectors = {0: b"a" * SECTOR, 300: b"b" * SECTOR, 301: b"c" * SECTOR, 2000: bytes(SECTOR)}
    write_vhd(tmp_path / "d.vhd", VhdSpec(4 * MiB, b"D" * 16, sectors))
    disk, ranges = ranges_of(tmp_path / "d.vhd")
    # Blocks 0, 2 and 15 hold a BAT entry; block 15 holds only zeros but is allocated, so it is listed.
    assert ranges == [(0, block), (2 * block, block), (15 * block, block)]
    assert_zero_outside(disk, ranges)
    disk.close()


def test_differencing_vhd_ranges_are_the_union_of_the_chain(tmp_path: Path) -> None:
    block = 64 * 1024
    write_vhd(tmp_path / "base.vhd", VhdSpec(4 * MiB, b"B" * 16, {0: b"x" * SECTOR, 1000: b"y" * SECTOR}))
    write_vhd(tmp_path / "child.vhd", VhdSpec(4 * MiB, b"C" * 16, {130: b"z" * SECTOR, 1001: b"w" * SECTOR},
                                               b"B" * 16, "base.vhd"))
    disk, ranges = ranges_of(tmp_path / "child.vhd")
    assert ranges == [(0, 2 * block), (7 * block, block)]
    assert_zero_outside(disk, ranges)
    disk.close()


def test_sparse_raw_ranges_are_its_data_extents(tmp_path: Path) -> None:
    path = tmp_path / "disk.raw"
    with open(path, "wb") as f:
        f.truncate(64 * MiB)
        f.seek(MiB)
        f.write(b"\x55" * 4096)
        f.seek(40 * MiB)
        f.write(b"\xaa" * 8192)
    disk, ranges = ranges_of(path)
    total = sum(length for _, length in ranges)
    if total == 64 * MiB:
        pytest.skip("this file system does not report holes (SEEK_DATA)")
    assert total < 2 * MiB
    assert covered_contains(ranges, MiB, 4096) and covered_contains(ranges, 40 * MiB, 8192)
    assert_zero_outside(disk, ranges)
    disk.close()


def covered_contains(ranges: list[tuple[int, int]], offset: int, length: int) -> bool:
    return any(start <= offset and offset + length <= start + size for start, size in ranges)


def test_vhdx_ranges_leave_out_zero_blocks_and_host_holes(tmp_path: Path) -> None:
    spec = VhdxSpec(8 * MiB, blocks={1: Block(FULLY_PRESENT, b"\x11" * 4096), 3: Block(ZERO),
                                      5: Block(FULLY_PRESENT, b"\x22" * MiB)})
    write_vhdx(tmp_path / "d.vhdx", spec)
    disk, ranges = ranges_of(tmp_path / "d.vhdx")
    assert covered_contains(ranges, MiB, 4096) and covered_contains(ranges, 5 * MiB, MiB)
    assert all(MiB <= start and start + length <= 6 * MiB for start, length in ranges)
    assert not any(3 * MiB <= start < 4 * MiB for start, _ in ranges)
    assert_zero_outside(disk, ranges)
    disk.close()


def test_differencing_vhdx_ranges_include_the_parent(tmp_path: Path) -> None:
    write_vhdx(tmp_path / "parent.vhdx", VhdxSpec(8 * MiB, blocks={0: Block(FULLY_PRESENT, b"\x01" * MiB)}))
    parent = open_disk(tmp_path / "parent.vhdx")
    guid = parent.header.data_write_guid
    parent.close()
    child = VhdxSpec(8 * MiB, blocks={6: Block(PARTIALLY_PRESENT, b"\x02" * MiB, frozenset({0}))},
                     parent_locator={"parent_linkage": f"{{{uuid.UUID(bytes_le=bytes(guid))}}}",
                                     "relative_path": ".\\parent.vhdx"})
    write_vhdx(tmp_path / "child.vhdx", child)
    disk, ranges = ranges_of(tmp_path / "child.vhdx")
    assert covered_contains(ranges, 0, 512) and covered_contains(ranges, 6 * MiB, 512)
    assert_zero_outside(disk, ranges)
    disk.close()
