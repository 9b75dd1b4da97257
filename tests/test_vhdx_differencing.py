"""Differencing VHDX: a child built from MS-VHDX over a qemu-made parent, read sector by sector.

qemu cannot create differencing VHDX files, so tests/support/vhdx_builder.py writes the child;
the parent's bytes come from ``qemu-img convert``.
"""

from __future__ import annotations

import random
import shutil
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.qemu import qemu_img, to_raw
from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import (
    FULLY_PRESENT,
    NOT_PRESENT,
    PARTIALLY_PRESENT,
    UNDEFINED,
    UNMAPPED,
    ZERO,
    Block,
    MiB,
    VhdxSpec,
    merged_reader,
    read_layout,
    write_vhdx,
)
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import CorruptContainer, ParentMismatch, ParentMissing, UnsupportedFormat

SIZE = 12 * MiB
SECTORS = MiB // 512


@dataclass
class Family:
    folder: Path
    parent: Path
    parent_raw: bytes = field(repr=False)
    parent_guid: uuid.UUID
    spec: VhdxSpec = field(repr=False)
    merged: bytes = field(repr=False)

    @property
    def child(self) -> Path:
        return self.folder / "child.avhdx"


def _child_spec(parent_guid: uuid.UUID, rng: random.Random, **changes: object) -> VhdxSpec:
    blocks = {
        0: Block(FULLY_PRESENT, rng.randbytes(MiB)),
        1: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset({0})),  # bit 0 of byte 0 only
        2: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset({7})),  # bit 7 of byte 0 only
        3: Block(PARTIALLY_PRESENT, rng.randbytes(MiB),
                 frozenset({*range(10), *range(100, 228), 1000, *range(SECTORS - 8, SECTORS)})),
        4: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset(rng.sample(range(SECTORS), SECTORS // 2))),
        5: Block(ZERO), 6: Block(UNMAPPED), 7: Block(UNDEFINED), 8: Block(NOT_PRESENT),
        11: Block(PARTIALLY_PRESENT, rng.randbytes(MiB // 2), frozenset(range(0, SECTORS, 3))),
    }
    spec = VhdxSpec(SIZE, blocks=blocks, parent_locator={
        "parent_linkage": f"{{{parent_guid}}}", "relative_path": ".\\parent.vhdx",
        "absolute_win32_path": "D:\\Hyper-V\\Virtual Hard Disks\\parent.vhdx",
        "volume_path": "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\Hyper-V\\parent.vhdx"})
    return replace(spec, **changes)


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Family:
    """parent.vhdx made by qemu from random data, and child.avhdx over it."""
    folder = tmp_path_factory.mktemp("family")
    rng = random.Random(31)
    source = folder / "parent.raw"
    source.write_bytes(rng.randbytes(SIZE))
    parent = folder / "parent.vhdx"
    qemu_img("convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", source, parent)
    parent_raw = to_raw(parent, folder / "parent.check.raw", "vhdx").read_bytes()
    assert parent_raw == source.read_bytes()
    with open(parent, "rb") as f:
        guid = read_layout(f).data_write_guid
    spec = _child_spec(guid, rng)
    write_vhdx(folder / "child.avhdx", spec, order=[4, 11, 0, 3, 2, 1])
    merged = merged_reader(spec, lambda offset, length: parent_raw[offset:offset + length])(0, SIZE)
    return Family(folder, parent, parent_raw, guid, spec, merged)


@pytest.mark.oracle
@settings(max_examples=300, deadline=None)
@given(offset=st.integers(0, SIZE + MiB), length=st.integers(0, 3 * MiB))
def test_random_reads_merge_child_and_parent(family: Family, offset: int, length: int) -> None:
    disk = open_disk(family.child)
    try:
        assert disk.read(offset, length) == family.merged[offset:offset + length]
    finally:
        disk.close()


@pytest.mark.oracle
def test_whole_disk_and_chain(family: Family) -> None:
    disk = open_disk(family.child)
    try:
        assert disk.read(0, SIZE) == family.merged
        assert [(Path(link.path).name, link.variant) for link in disk.chain] == [
            ("child.avhdx", "differencing"), ("parent.vhdx", "dynamic")]
        assert disk.info.format == "vhdx" and disk.info.warnings == []
    finally:
        disk.close()


@pytest.mark.oracle
def test_sector_bitmap_is_lsb_first(family: Family) -> None:
    """MS-VHDX §2.4: bit 0 of byte 0 is the first sector (the VHD bitmap is the other way round)."""
    child, parent = family.spec.blocks, family.parent_raw
    disk = open_disk(family.child)
    try:
        assert disk.read(MiB, 512) == child[1].data[:512]
        assert disk.read(MiB + 512, 3584) == parent[MiB + 512:MiB + 4096]
        assert disk.read(2 * MiB, 3584) == parent[2 * MiB:2 * MiB + 3584]
        assert disk.read(2 * MiB + 3584, 512) == child[2].data[3584:4096]
    finally:
        disk.close()


@pytest.mark.oracle
def test_block_states_without_data(family: Family) -> None:
    disk = open_disk(family.child)
    try:
        for block in (5, 6, 7):  # ZERO, UNMAPPED, UNDEFINED: zeros, not the parent's data
            assert disk.read(block * MiB, MiB) == bytes(MiB)
        for block in (8, 9):  # NOT_PRESENT: the parent's data
            assert disk.read(block * MiB, MiB) == family.parent_raw[block * MiB:(block + 1) * MiB]
    finally:
        disk.close()


@pytest.mark.oracle
def test_file_extent_only_for_fully_present_blocks(family: Family) -> None:
    disk = open_disk(family.child)
    try:
        assert isinstance(disk, VhdxDisk)
        extent = disk.file_extent(1000)
        assert extent is not None and extent[1] == MiB - 1000
        with open(family.child, "rb") as f:
            f.seek(extent[0])
            assert f.read(100) == family.spec.blocks[0].data[1000:1100]
        assert [disk.file_extent(block * MiB) for block in (1, 5, 8)] == [None, None, None]
    finally:
        disk.close()


def _child_only(family: Family, folder: Path, name: str = "child.avhdx") -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy(family.child, folder / name)
    return folder / name


@pytest.mark.oracle
def test_missing_parent(family: Family, tmp_path: Path) -> None:
    with pytest.raises(ParentMissing, match=r"parent\.vhdx"):
        open_disk(_child_only(family, tmp_path / "alone"))


@pytest.mark.oracle
def test_explicit_parent_overrides_lookup(family: Family, tmp_path: Path) -> None:
    child = _child_only(family, tmp_path / "child")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    renamed = elsewhere / "renamed-base.vhdx"
    shutil.copy(family.parent, renamed)
    disk = open_disk(child, parents=[renamed])
    try:
        assert disk.read(0, SIZE) == family.merged
        assert Path(disk.chain[1].path) == renamed
    finally:
        disk.close()


@pytest.mark.oracle
@pytest.mark.parametrize(("linkage", "linkage2", "opens"), [
    ("random", None, False), ("random", "parent", True), ("parent", "random", True)])
def test_parent_linkage_must_match_data_write_guid(family: Family, tmp_path: Path, linkage: str,
                                                   linkage2: str | None, opens: bool) -> None:
    values = {"random": f"{{{uuid.uuid4()}}}", "parent": str(family.parent_guid).upper()}
    locator = {**family.spec.parent_locator, "parent_linkage": values[linkage]}
    if linkage2:
        locator["parent_linkage2"] = values[linkage2]
    shutil.copy(family.parent, tmp_path / "parent.vhdx")
    write_vhdx(tmp_path / "child.avhdx", replace(family.spec, parent_locator=locator))
    if opens:
        disk = open_disk(tmp_path / "child.avhdx")
        assert disk.read(0, SIZE) == family.merged
        disk.close()
    else:
        with pytest.raises(ParentMismatch, match="DataWriteGuid"):
            open_disk(tmp_path / "child.avhdx")


@pytest.mark.oracle
def test_parent_of_another_size(family: Family, tmp_path: Path) -> None:
    shutil.copy(family.parent, tmp_path / "parent.vhdx")
    write_vhdx(tmp_path / "child.avhdx", replace(family.spec, virtual_size=SIZE + MiB))
    with pytest.raises(ParentMismatch, match="bytes"):
        open_disk(tmp_path / "child.avhdx")


def test_parent_that_is_not_a_vhdx(tmp_path: Path) -> None:
    write_vhd(tmp_path / "parent.vhdx", VhdSpec(SIZE, b"P" * 16))
    spec = _child_spec(uuid.uuid4(), random.Random(1))
    write_vhdx(tmp_path / "child.avhdx", spec)
    with pytest.raises(ParentMismatch, match="VHD"):
        open_disk(tmp_path / "child.avhdx")


@pytest.mark.parametrize(("locator", "error"), [
    ({"relative_path": ".\\parent.vhdx"}, CorruptContainer),
    ({"parent_linkage": "not a guid", "relative_path": ".\\parent.vhdx"}, CorruptContainer),
])
def test_bad_parent_locator(tmp_path: Path, locator: dict[str, str], error: type[Exception]) -> None:
    write_vhdx(tmp_path / "child.avhdx", _child_spec(uuid.uuid4(), random.Random(1), parent_locator=locator))
    with pytest.raises(error):
        open_disk(tmp_path / "child.avhdx")


def test_unknown_parent_locator_type(tmp_path: Path) -> None:
    write_vhdx(tmp_path / "child.avhdx", _child_spec(uuid.uuid4(), random.Random(1)))
    data = bytearray((tmp_path / "child.avhdx").read_bytes())
    at = data.find(uuid.UUID("B04AEFB7-D19E-4A81-B789-25B8E9445913").bytes_le, 2 * MiB)
    data[at:at + 16] = uuid.uuid4().bytes_le
    (tmp_path / "child.avhdx").write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormat, match="parent locator type"):
        open_disk(tmp_path / "child.avhdx")


def test_sector_bitmaps_of_later_chunks(tmp_path: Path) -> None:
    """With 256 MiB blocks a chunk holds 16 blocks, so partial blocks past block 15 use the sector
    bitmap block of chunk 1, whose BAT entry sits after 2 x 16 payload entries (§2.5)."""
    rng = random.Random(41)
    block = 256 * MiB
    size = 5 * 1024 * MiB
    parent_spec = VhdxSpec(size, block_size=block, blocks={
        number: Block(FULLY_PRESENT, rng.randbytes(8192)) for number in (0, 15, 16, 17, 19)})
    write_vhdx(tmp_path / "parent.vhdx", parent_spec)
    child_spec = VhdxSpec(size, block_size=block, parent_locator={
        "parent_linkage": str(parent_spec.data_write_guid), "relative_path": "parent.vhdx"}, blocks={
        1: Block(PARTIALLY_PRESENT, rng.randbytes(8192), frozenset({1, 2, 9})),
        16: Block(PARTIALLY_PRESENT, rng.randbytes(8192), frozenset({0, 3, 15})),
        17: Block(FULLY_PRESENT, rng.randbytes(4096)),
        19: Block(PARTIALLY_PRESENT, rng.randbytes(8192), frozenset({5, 8}))})
    write_vhdx(tmp_path / "child.avhdx", child_spec, order=[19, 17, 16, 1])
    expected = merged_reader(child_spec, merged_reader(parent_spec, None))
    disk = open_disk(tmp_path / "child.avhdx")
    try:
        assert isinstance(disk, VhdxDisk) and disk.chunk_ratio == 16
        for number in (0, 1, 15, 16, 17, 18, 19):
            for start in (number * block, number * block + 700, (number + 1) * block - 5000):
                assert disk.read(start, 9000) == expected(start, 9000), (number, start)
    finally:
        disk.close()


def test_four_kib_logical_sectors(tmp_path: Path) -> None:
    rng = random.Random(43)
    parent_spec = VhdxSpec(4 * MiB, logical_sector_size=4096, blocks={
        number: Block(FULLY_PRESENT, rng.randbytes(MiB)) for number in range(4)})
    write_vhdx(tmp_path / "parent.vhdx", parent_spec)
    child_spec = VhdxSpec(4 * MiB, logical_sector_size=4096, parent_locator={
        "parent_linkage": str(parent_spec.data_write_guid), "relative_path": "parent.vhdx"}, blocks={
        1: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset({0, 1, 7, 8, 255})),
        2: Block(PARTIALLY_PRESENT, rng.randbytes(MiB), frozenset(range(1, 256, 2)))})
    write_vhdx(tmp_path / "child.avhdx", child_spec)
    disk = open_disk(tmp_path / "child.avhdx")
    try:
        assert disk.info.sector_size == 4096
        assert disk.read(0, 4 * MiB) == merged_reader(child_spec, merged_reader(parent_spec, None))(0, 4 * MiB)
    finally:
        disk.close()
