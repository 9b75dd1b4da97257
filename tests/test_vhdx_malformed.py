"""Malformed VHDX files: each gives its exact error code, damaged copies fall back with a warning,
and no input ever raises anything but a VhdfixError."""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support.hostile import read_through
from tests.support.vhdx_builder import (
    FULLY_PRESENT,
    ZERO,
    Block,
    MiB,
    VhdxSpec,
    crc_zeroed,
    merged_reader,
    read_layout,
    rewrite_header,
    rewrite_region_table,
    write_bat_entry,
    write_vhdx,
)
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import (
    BadChecksum,
    CorruptContainer,
    NotADiskImage,
    Truncated,
    UnsupportedFormat,
    VhdfixError,
)

SIZE = 4 * MiB + 5 * 512
# The builder's layout: headers at 64/128 KiB, region tables at 192/256 KiB, log at 1 MiB,
# metadata at 2 MiB (items from +64 KiB), BAT at 3 MiB, payload blocks 2 then 0 from 4 MiB.
METADATA, BAT, FIRST_PAYLOAD = 2 * MiB, 3 * MiB, 4 * MiB


class Base(NamedTuple):
    """The bytes of a small dynamic VHDX and of the disk it holds."""

    file: bytes
    disk: bytes

    def __repr__(self) -> str:  # short, for Hypothesis's report of a failing example
        return f"Base({len(self.file)}-byte VHDX, {len(self.disk)}-byte disk)"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    rng = random.Random(11)
    spec = VhdxSpec(SIZE, blocks={0: Block(FULLY_PRESENT, rng.randbytes(MiB)),
                                  2: Block(FULLY_PRESENT, rng.randbytes(MiB)), 3: Block(ZERO)})
    path = tmp_path_factory.mktemp("malformed") / "base.vhdx"
    write_vhdx(path, spec, order=[2, 0])
    return Base(path.read_bytes(), merged_reader(spec, None)(0, SIZE))


def _variant(tmp_path: Path, base: tuple[bytes, bytes], edit: Callable[[Path], None]) -> Path:
    path = tmp_path / "variant.vhdx"
    path.write_bytes(base[0])
    edit(path)
    return path


def _flip(offset: int) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0x5A]))
    return edit


def _both(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        for one in edits:
            one(path)
    return edit


def _reads_correctly(path: Path, disk_bytes: bytes) -> list[str]:
    disk = open_disk(path)
    try:
        assert disk.read(0, SIZE) == disk_bytes
        return disk.info.warnings
    finally:
        disk.close()


def test_pristine_file_reads_without_warnings(base: tuple[bytes, bytes], tmp_path: Path) -> None:
    assert _reads_correctly(_variant(tmp_path, base, lambda _: None), base[1]) == []


@pytest.mark.parametrize(("slot", "offset"), [(1, 64 * 1024 + 100), (2, 128 * 1024 + 4000), (1, 64 * 1024)])
def test_one_damaged_header_falls_back_with_a_warning(base: tuple[bytes, bytes], tmp_path: Path, slot: int,
                                                      offset: int) -> None:
    warnings = _reads_correctly(_variant(tmp_path, base, _flip(offset)), base[1])
    assert len(warnings) == 1 and f"header {slot}" in warnings[0] and "damaged" in warnings[0]


def test_both_headers_damaged(base: tuple[bytes, bytes], tmp_path: Path) -> None:
    path = _variant(tmp_path, base, _both(_flip(64 * 1024 + 100), _flip(128 * 1024 + 9)))
    with pytest.raises(BadChecksum, match="no valid VHDX header"):
        open_disk(path)


def test_the_valid_header_with_the_higher_sequence_number_wins(base: tuple[bytes, bytes], tmp_path: Path) -> None:
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            # Header 1 gets sequence 9 and a BAT region pointer that does not exist in table terms:
            # only its log fields matter, so mark it by a distinct (zero-length) log.
            rewrite_header(f, 0, lambda raw: raw.__setitem__(slice(8, 16), struct.pack("<Q", 9)))
    path = _variant(tmp_path, base, edit)
    disk = open_disk(path)
    assert isinstance(disk, VhdxDisk) and disk.header.sequence_number == 9 and disk.header_slot == 1
    disk.close()


@pytest.mark.parametrize(("slot", "offset"), [(1, 192 * 1024 + 20), (1, 192 * 1024 + 60000), (2, 256 * 1024 + 5)])
def test_one_damaged_region_table_falls_back_with_a_warning(base: tuple[bytes, bytes], tmp_path: Path, slot: int,
                                                            offset: int) -> None:
    warnings = _reads_correctly(_variant(tmp_path, base, _flip(offset)), base[1])
    assert len(warnings) == 1 and f"region table {slot}" in warnings[0]


def test_both_region_tables_damaged(base: tuple[bytes, bytes], tmp_path: Path) -> None:
    path = _variant(tmp_path, base, _both(_flip(192 * 1024 + 20), _flip(256 * 1024 + 30)))
    with pytest.raises(BadChecksum, match="no valid VHDX region table"):
        open_disk(path)


@pytest.mark.parametrize(("length", "error"), [(8, Truncated), (100 * 1024, Truncated), (300 * 1024, Truncated),
                                               (2 * MiB + 70 * 1024, Truncated), (3 * MiB + 100, Truncated),
                                               (5 * MiB + 3, Truncated)])
def test_truncated_file(base: tuple[bytes, bytes], tmp_path: Path, length: int, error: type[VhdfixError]) -> None:
    path = tmp_path / "cut.vhdx"
    path.write_bytes(base[0][:length])
    with pytest.raises(error):
        open_disk(path)


def test_bat_entry_past_the_end_of_the_file(base: tuple[bytes, bytes], tmp_path: Path) -> None:
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            write_bat_entry(f, read_layout(f), 1, FULLY_PRESENT, 4000)
    with pytest.raises(Truncated, match="payload block 1 lies past the end"):
        open_disk(_variant(tmp_path, base, edit))


@pytest.mark.parametrize(("offset_mb", "what"), [(0, "header section"), (2, "metadata"), (3, "BAT"), (1, "log")])
def test_bat_entry_over_the_files_own_structures(base: tuple[bytes, bytes], tmp_path: Path, offset_mb: int,
                                                 what: str) -> None:
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            write_bat_entry(f, read_layout(f), 1, FULLY_PRESENT, offset_mb)
    with pytest.raises(CorruptContainer, match="overlaps"):
        open_disk(_variant(tmp_path, base, edit))


@pytest.mark.parametrize("state", [4, 5, 7])
def test_bat_entry_with_an_impossible_state(base: tuple[bytes, bytes], tmp_path: Path, state: int) -> None:
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            write_bat_entry(f, read_layout(f), 1, state, 5)
    with pytest.raises(CorruptContainer, match="payload block 1"):
        open_disk(_variant(tmp_path, base, edit))


def test_garbage_after_the_identifier(tmp_path: Path) -> None:
    path = tmp_path / "garbage.vhdx"
    path.write_bytes(b"vhdxfile" + random.Random(1).randbytes(2 * MiB))
    with pytest.raises(BadChecksum):
        open_disk(path)


def test_identifier_only(tmp_path: Path) -> None:
    path = tmp_path / "short.vhdx"
    path.write_bytes(b"vhdxfile")
    with pytest.raises(Truncated):
        open_disk(path)


def _region_entries(edit: Callable[[list[tuple[bytes, int, int, int]]], None]) -> Callable[[Path], None]:
    """Rewrite both region tables' entries (guid bytes, offset, length, flags) with valid checksums."""
    def apply(path: Path) -> None:
        with open(path, "r+b") as f:
            for slot in (0, 1):
                def change(raw: bytearray) -> None:
                    count = struct.unpack_from("<I", raw, 8)[0]
                    entries = [struct.unpack_from("<16sQII", raw, 16 + 32 * i) for i in range(count)]
                    edit(entries)
                    raw[8:12] = struct.pack("<I", len(entries))
                    raw[16:] = bytes(len(raw) - 16)
                    for i, entry in enumerate(entries):
                        struct.pack_into("<16sQII", raw, 16 + 32 * i, *entry)
                rewrite_region_table(f, slot, change)
    return apply


@pytest.mark.parametrize(("flags", "error"), [(1, UnsupportedFormat), (0, None)])
def test_unknown_region(base: tuple[bytes, bytes], tmp_path: Path, flags: int, error: type[VhdfixError] | None) -> None:
    path = _variant(tmp_path, base, _region_entries(
        lambda entries: entries.append((uuid.uuid4().bytes_le, 5 * MiB, MiB, flags))))
    if error is None:
        assert _reads_correctly(path, base[1]) == []
    else:
        with pytest.raises(error, match="unknown region"):
            open_disk(path)


@pytest.mark.parametrize(("change", "error", "message"), [
    (lambda e: e.pop(), CorruptContainer, "no BAT region"),
    (lambda e: e.append(e[0]), CorruptContainer, "twice"),
    (lambda e: e.__setitem__(0, (*e[0][:1], 3 * MiB + 4096, *e[0][2:])), CorruptContainer, "aligned"),
    (lambda e: e.__setitem__(1, (e[1][0], 3 * MiB, 100 * MiB, 1)), Truncated, "past the end"),
    (lambda e: e.__setitem__(1, (e[1][0], 2 * MiB, MiB, 1)), CorruptContainer, "overlap"),
])
def test_bad_region_entries(base: tuple[bytes, bytes], tmp_path: Path, change: Callable[[list], None],
                            error: type[VhdfixError], message: str) -> None:
    with pytest.raises(error, match=message):
        open_disk(_variant(tmp_path, base, _region_entries(change)))


def _metadata_edit(entry: int, field_offset: int, value: bytes) -> Callable[[Path], None]:
    """Overwrite bytes of metadata table entry ``entry`` (or, with entry -1, of the item area)."""
    def edit(path: Path) -> None:
        with open(path, "r+b") as f:
            f.seek(METADATA + (32 + 32 * entry if entry >= 0 else 0) + field_offset)
            f.write(value)
    return edit


@pytest.mark.parametrize(("edit", "error", "message"), [
    (_metadata_edit(0, 24, struct.pack("<I", 7)), None, None),  # flags of a known item do not matter
    (_both(_metadata_edit(5, 0, uuid.uuid4().bytes_le + struct.pack("<III", 65600, 8, 3)),  # unknown, optional
           _metadata_edit(-1, 10, struct.pack("<H", 6))), None, None),
    (_metadata_edit(0, 0, uuid.uuid4().bytes_le), UnsupportedFormat, "unknown metadata item"),
    (_both(_metadata_edit(1, 0, uuid.uuid4().bytes_le), _metadata_edit(1, 24, bytes(4))), CorruptContainer,
     "no virtual disk size"),
    (_metadata_edit(0, 16, struct.pack("<I", 10)), CorruptContainer, "outside the metadata region"),
    (_metadata_edit(0, 20, struct.pack("<I", 2 * MiB)), CorruptContainer, "outside the metadata region"),
    (_metadata_edit(3, 20, struct.pack("<I", 2)), CorruptContainer, "needs 4"),
    (_metadata_edit(-1, 0, b"metadatX"), CorruptContainer, "signature"),
    (_metadata_edit(-1, 65536, struct.pack("<I", 3 * MiB)), CorruptContainer, "block size"),
    (_metadata_edit(-1, 65536, struct.pack("<I", 512 * MiB)), CorruptContainer, "block size"),
    (_metadata_edit(-1, 65536 + 32, struct.pack("<I", 1024)), CorruptContainer, "sector sizes"),
    (_metadata_edit(-1, 65536 + 8, struct.pack("<Q", 5000)), CorruptContainer, "virtual disk size"),
    (_metadata_edit(-1, 65536 + 8, struct.pack("<Q", 1 << 40)), CorruptContainer, "BAT region holds"),
    (_metadata_edit(-1, 65536 + 4, struct.pack("<I", 2)), CorruptContainer, "no parent locator"),
])
def test_bad_metadata(base: tuple[bytes, bytes], tmp_path: Path, edit: Callable[[Path], None],
                      error: type[VhdfixError] | None, message: str | None) -> None:
    path = _variant(tmp_path, base, edit)
    if error is None:
        assert _reads_correctly(path, base[1]) == []
        return
    with pytest.raises(error, match=message):
        open_disk(path)


def test_not_a_vhdx(tmp_path: Path) -> None:
    path = tmp_path / "x.vhdx"
    path.write_bytes(b"vhdxfilX" + bytes(4096))
    with pytest.raises(NotADiskImage):
        open_disk(path)


# --- fuzzing ---------------------------------------------------------------------------------------

# (start, length, checksummed header/region-table slot or None): every mutable structure of the file. The last
# area ends in the first bytes of payload block STORED_FIRST (``base`` stores blocks 2 then 0): data, not structure.
AREAS = [(64 * 1024, 80, ("header", 0)), (128 * 1024, 80, ("header", 1)), (192 * 1024, 16 + 64, ("table", 0)),
         (METADATA, 32 + 6 * 32, None), (METADATA + 65536, 64, None), (BAT, 64, None),
         (FIRST_PAYLOAD - 16, 32, None)]
STORED_FIRST = 2


@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(st.tuples(st.integers(0, len(AREAS) - 1), st.integers(0, 1 << 16), st.integers(1, 255)),
                          min_size=1, max_size=6))
@example(mutations=[])
@example(mutations=[(len(AREAS) - 1, 20, 0xFF)])  # one byte of payload data
def test_mutated_files_fail_cleanly_and_mutated_data_reads_back(base: tuple[bytes, bytes],
                                                                tmp_path_factory: pytest.TempPathFactory,
                                                                mutations: list[tuple[int, int, int]]) -> None:
    """A mutated file opens or is refused with a VhdfixError, never another exception. One whose structures are
    untouched (payload data changed, or nothing) opens without a warning and reads back as mutated."""
    data = bytearray(base[0])
    disk_bytes = bytearray(base[1])
    fix = set()
    for area, position, xor in mutations:
        start, length, checksummed = AREAS[area]
        offset = start + position % length
        data[offset] ^= xor
        if offset >= FIRST_PAYLOAD:
            disk_bytes[STORED_FIRST * MiB + offset - FIRST_PAYLOAD] ^= xor
        if checksummed:
            fix.add(checksummed)
    for kind, slot in fix:
        at, size = ((64 * 1024, 128 * 1024)[slot], 4096) if kind == "header" else (192 * 1024, 65536)
        struct.pack_into("<I", data, at + 4, crc_zeroed(bytes(data[at:at + size]), 4))
    path = tmp_path_factory.getbasetemp() / "fuzz.vhdx"
    path.write_bytes(bytes(data))
    if data[:FIRST_PAYLOAD] == base[0][:FIRST_PAYLOAD]:
        assert _reads_correctly(path, bytes(disk_bytes)) == []
    else:
        read_through(path, 3 * MiB // 2)
