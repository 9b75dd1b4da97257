"""The copy engine: every output format from every kind of input, read back by vhdfix's own readers.

Each copy must read back exactly as the input (plus zeros where a format
rounds the size up), leave the input's bytes untouched, store no block that
holds only zeros, and take no more space than the input. Structures are
checked field by field against the VHD and VHDX specifications.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.support.copy_inputs import (
    FORMATS,
    SECTOR,
    Input,
    block_is_zero,
    output_path,
    patched,
    read_all,
    sample_patches,
)
from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import FULLY_PRESENT, Block, MiB, VhdxSpec, write_vhdx
from vhdfix.copy import Target, copy_disk, resolve_target
from vhdfix.copy.output import OutputFile, data_runs
from vhdfix.copy.temporaries import TEMP_MARK
from vhdfix.copy.vhd import chs_geometry
from vhdfix.disk import Container, ContainerInfo, open_disk
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.vhd_format import DYNAMIC_DISK_HEADER, FOOTER_CHECKSUM_OFFSET, HARD_DISK_FOOTER, vhd_checksum
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.disk.vhdx_format import (
    BAT_STATE_MASK,
    PAYLOAD_BLOCK_FULLY_PRESENT,
    PAYLOAD_BLOCK_ZERO,
    REGION_TABLE_OFFSETS,
    REGION_TABLE_SIZE,
)
from vhdfix.errors import FormatNotAvailable, OldBytesMismatch, OutputExists, OutputIsInput
from vhdfix.plan import BytePatch


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if TEMP_MARK in path.name)


# --- structure checks, from the specifications ------------------------------------------------------------------


def check_fixed_vhd(path: Path, virtual_size: int) -> None:
    size = -(-virtual_size // MiB) * MiB
    assert path.stat().st_size == size + 512
    raw = path.read_bytes()[-512:]
    footer = HARD_DISK_FOOTER.parse(raw)
    assert footer.cookie == b"conectix"
    assert footer.disk_type == 2
    assert footer.data_offset == 0xFFFFFFFFFFFFFFFF
    assert footer.current_size == footer.original_size == size
    assert footer.checksum == vhd_checksum(raw, FOOTER_CHECKSUM_OFFSET)
    assert footer.disk_geometry == (lambda c, h, s: c << 16 | h << 8 | s)(*chs_geometry(size))
    assert footer.features & 2  # the spec's always-set reserved bit


def check_dynamic_vhd(path: Path, content: bytes) -> None:
    data = path.read_bytes()
    assert data[:512] == data[-512:], "the footer copy at offset 0 differs from the footer"
    footer = HARD_DISK_FOOTER.parse(data[-512:])
    assert footer.disk_type == 3 and footer.checksum == vhd_checksum(data[-512:], FOOTER_CHECKSUM_OFFSET)
    header = DYNAMIC_DISK_HEADER.parse(data, footer.data_offset)
    assert header.cookie == b"cxsparse"
    assert header.checksum == vhd_checksum(data[footer.data_offset:footer.data_offset + 1024], 36)
    block_size = header.block_size
    assert block_size == 2 * MiB and header.max_table_entries == -(-footer.current_size // block_size)
    bat = struct.unpack_from(f">{header.max_table_entries}I", data, header.table_offset)
    for block, entry in enumerate(bat):
        zero = block_is_zero(content, block * block_size, block_size)
        assert (entry == 0xFFFFFFFF) == zero, f"block {block}: allocated {entry != 0xFFFFFFFF}, zero {zero}"
        if entry != 0xFFFFFFFF:
            assert data[entry * 512:entry * 512 + 512] == b"\xff" * 512, "sector bitmap not all set"


def check_vhdx(path: Path, content: bytes, fixed: bool) -> None:
    disk = open_disk(path)
    try:
        assert isinstance(disk, VhdxDisk)
        assert disk.warnings == []  # both headers and both region tables valid
        assert bytes(disk.header.log_guid) == bytes(16) and disk.log_replayed_entries == 0
        assert disk.metadata.leave_block_allocated == fixed and not disk.metadata.has_parent
        for block in range(disk.data_blocks):
            state = disk.payload_entry(block) & BAT_STATE_MASK
            if fixed:
                assert state == PAYLOAD_BLOCK_FULLY_PRESENT
            else:
                zero = block_is_zero(content, block * disk.block_size, disk.block_size)
                assert state == (PAYLOAD_BLOCK_ZERO if zero else PAYLOAD_BLOCK_FULLY_PRESENT), block
    finally:
        disk.close()
    data = path.read_bytes()
    first, second = (data[offset:offset + REGION_TABLE_SIZE] for offset in REGION_TABLE_OFFSETS)
    assert first == second


def check_output(path: Path, target: Target, content: bytes) -> None:
    copied, fmt, variant = read_all(path)
    assert (fmt, variant) == (target.format, target.variant)
    assert copied[:len(content)] == content
    assert copied[len(content):] == bytes(len(copied) - len(content))
    if target.format == "vhd" and target.variant == "fixed":
        check_fixed_vhd(path, len(content))
    elif target.format == "vhd":
        check_dynamic_vhd(path, copied)
    elif target.format == "vhdx":
        check_vhdx(path, copied, target.variant == "fixed")
    else:
        assert path.stat().st_size == len(content)


def allowance(source_input: Input, target: Target) -> int:
    """How much more space than the input a copy may take. None in the same format. In another: its own
    structures (footer, headers, BAT: 64 KiB at most) and, for dynamic VHD, a host page per block for its
    sector bitmap and a page per run of data, which the bitmap shifts off the host's page boundaries."""
    if (target.format, target.variant) == (source_input.format, source_input.variant):
        return 0
    if target.format != "vhd" or target.variant != "dynamic":
        return 64 * 1024
    content, page = source_input.content, 4096
    data = [content[offset:offset + page] != bytes(page) for offset in range(0, len(content), page)]
    runs = sum(1 for index, full in enumerate(data) if full and (index == 0 or not data[index - 1]))
    return 64 * 1024 + page * (runs + -(-len(content) // (2 * MiB)))


# --- the matrix ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vhd-dynamic", "vhd-fixed", "vhdx", "vhd-chain", "raw"])
def test_copy(kind: str, fmt: str, inputs: dict[str, Input], tmp_path: Path) -> None:
    source_input = inputs[kind]
    before = source_input.digests()
    source = open_disk(source_input.path)
    try:
        target = resolve_target(fmt, source)
        out = output_path(tmp_path, source, fmt)
        result = copy_disk(source, out, fmt)
    finally:
        source.close()
    assert source_input.digests() == before
    check_output(out, target, source_input.content)
    assert result.allocated == out.stat().st_blocks * 512 <= source_input.allocated() + allowance(source_input, target)
    assert result.file_size == out.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_same_keeps_the_format_and_flattens_a_chain(inputs: dict[str, Input]) -> None:
    expected = {"vhd-dynamic": Target("vhd", "dynamic"), "vhd-fixed": Target("vhd", "fixed"),
                "vhdx": Target("vhdx", "dynamic"), "vhd-chain": Target("vhd", "dynamic"), "raw": Target("raw", "raw")}
    for kind, target in expected.items():
        disk = open_disk(inputs[kind].path)
        try:
            assert resolve_target("same", disk) == target, kind
        finally:
            disk.close()


class _OtherFormat(Container):
    def _read(self, offset: int, length: int) -> bytes:
        return bytes(length)


def test_formats_vhdfix_does_not_write_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.qcow2").write_bytes(b"QFI\xfb")
    with ImageFile(tmp_path / "x.qcow2") as image:
        disk = _OtherFormat(image, ContainerInfo("qcow2", "dynamic", MiB))
        with pytest.raises(FormatNotAvailable):
            resolve_target("same", disk)
        with pytest.raises(FormatNotAvailable):
            resolve_target("vmdk", disk)
        assert resolve_target("raw", disk) == Target("raw", "raw")


def test_4k_sector_disks_keep_their_sectors(tmp_path: Path) -> None:
    spec = VhdxSpec(16 * MiB, logical_sector_size=4096, blocks={2: Block(FULLY_PRESENT, b"\x33" * MiB)})
    write_vhdx(tmp_path / "4k.vhdx", spec)
    disk = open_disk(tmp_path / "4k.vhdx")
    try:
        with pytest.raises(FormatNotAvailable):
            copy_disk(disk, tmp_path / "out.vhd", "vhd-dynamic")
        copy_disk(disk, tmp_path / "out.vhdx", "vhdx")
    finally:
        disk.close()
    copy = open_disk(tmp_path / "out.vhdx")
    assert copy.info.sector_size == 4096 and copy.read(2 * MiB, MiB) == b"\x33" * MiB
    copy.close()
    assert leftovers(tmp_path) == []


def test_allocated_zero_blocks_are_not_stored(tmp_path: Path) -> None:
    """Blocks the input allocates but fills with zeros are left unallocated in the copy."""
    sectors = {0: b"\x01" * SECTOR, **{number: bytes(SECTOR) for number in range(4096, 4200)}}
    write_vhd(tmp_path / "in.vhd", VhdSpec(8 * MiB, b"Z" * 16, sectors, block_size=2 * MiB))
    disk = open_disk(tmp_path / "in.vhd")
    assert disk.bat[1] != 0xFFFFFFFF  # block 1 is allocated and holds only zeros
    try:
        copy_disk(disk, tmp_path / "out.vhd", "vhd-dynamic")
        copy_disk(disk, tmp_path / "out.vhdx", "vhdx")
    finally:
        disk.close()
    out = open_disk(tmp_path / "out.vhd")
    assert [entry != 0xFFFFFFFF for entry in out.bat] == [True, False, False, False]
    out.close()
    out = open_disk(tmp_path / "out.vhdx")
    assert [out.payload_entry(block) & BAT_STATE_MASK for block in range(out.data_blocks)] == [
        PAYLOAD_BLOCK_FULLY_PRESENT]  # one 32 MiB block covers the 8 MiB disk
    out.close()


# --- patches spliced into the stream --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vhd-dynamic", "vhd-chain", "vhdx"])
def test_patches_are_spliced_in(kind: str, fmt: str, inputs: dict[str, Input], tmp_path: Path) -> None:
    source_input = inputs[kind]
    patches = sample_patches(source_input.content)
    before = source_input.digests()
    disk = open_disk(source_input.path)
    try:
        target = resolve_target(fmt, disk)
        out = output_path(tmp_path, disk, fmt)
        copy_disk(disk, out, fmt, patches)
    finally:
        disk.close()
    assert source_input.digests() == before
    assert kind != "vhdx" or len(patches) == 3  # the GPT disk's reserved partition is all zeros
    check_output(out, target, patched(source_input.content, patches))


def test_a_patch_whose_old_bytes_differ_is_refused(inputs: dict[str, Input], tmp_path: Path) -> None:
    content = inputs["vhd-dynamic"].content
    wrong = BytePatch(MiB + 10, bytes(b ^ 0xFF for b in content[MiB + 10:MiB + 14]), b"xxxx", "stale plan")
    disk = open_disk(inputs["vhd-dynamic"].path)
    try:
        with pytest.raises(OldBytesMismatch, match=f"virtual offset {MiB + 10}"):
            copy_disk(disk, tmp_path / "out.vhd", "same", [wrong])
        with pytest.raises(OldBytesMismatch, match="past the end"):
            copy_disk(disk, tmp_path / "out.vhd", "same", [BytePatch(len(content) - 1, b"\0\0", b"ab", "too far")])
    finally:
        disk.close()
    assert list(tmp_path.iterdir()) == []


# --- the output file ------------------------------------------------------------------------------------------------


def test_zero_pages_are_left_as_holes() -> None:
    page = 4096
    data = b"\x01" * 10 + bytes(3 * page) + b"\x02" * page + bytes(page)
    # Written at file offset page - 10: the first run ends at the first page boundary, the next page of zeros
    # is skipped, and so on.
    assert data_runs(data, page - 10) == [(0, 10), (10 + 3 * page, 10 + 4 * page)]
    assert data_runs(bytes(3 * page), 0) == []
    assert data_runs(b"\x05" * (2 * page), 100) == [(0, 2 * page)]
    assert data_runs(bytes(100), 7) == []


def test_existing_outputs_and_inputs_are_not_replaced(inputs: dict[str, Input], tmp_path: Path) -> None:
    source_input = inputs["vhd-chain"]
    disk = open_disk(source_input.path)
    try:
        (tmp_path / "taken.vhd").write_bytes(b"keep")
        with pytest.raises(OutputExists):
            copy_disk(disk, tmp_path / "taken.vhd")
        assert (tmp_path / "taken.vhd").read_bytes() == b"keep"
        for path in source_input.files:  # the input and its parent, even with replace
            with pytest.raises(OutputIsInput):
                copy_disk(disk, path, replace=True)
        copy_disk(disk, tmp_path / "taken.vhd", replace=True)
    finally:
        disk.close()
    assert read_all(tmp_path / "taken.vhd")[0] == source_input.content


def test_an_output_that_appears_during_the_copy_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "late.raw"
    with pytest.raises(OutputExists), OutputFile(target) as out:
        out.write_at(0, b"data")
        out.sync()
        target.write_bytes(b"someone else's")
        out.commit()
    assert target.read_bytes() == b"someone else's"
    assert leftovers(tmp_path) == []
