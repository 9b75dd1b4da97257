"""VHDX log replay in memory (MS-VHDX §2.3): synthetic logs, checked against qemu's own replay where qemu
follows the specification, and against the specification's rules where it does not."""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support.hostile import read_through
from tests.support.qemu import qemu_img, qemu_io, to_raw
from tests.support.vhdx_builder import (
    FULLY_PRESENT,
    Block,
    Layout,
    LogEntrySpec,
    LogWrite,
    MiB,
    VhdxSpec,
    crc_zeroed,
    log_entry_bytes,
    merged_reader,
    read_bat_entry,
    read_layout,
    rewrite_header,
    write_log,
    write_vhdx,
)
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import Truncated, UnsupportedFormat, VhdfixError, VhdxLogInvalid

SIZE = 8 * MiB
LOG_GUID = uuid.UUID("0b6c1f0e-5d4a-4b1e-9a43-6c1d2b3e4f50")


class LogCase:
    """A small dynamic VHDX with data in blocks 0-3, and helpers to describe log writes against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as f:
            self.layout: Layout = read_layout(f)
            self.block_at = {block: (read_bat_entry(f, self.layout, self.layout.bat_index(block)) >> 20) * MiB
                             for block in range(4)}
            f.seek(self.layout.bat_offset)
            self.bat_page = bytearray(f.read(4096))
        self.size = path.stat().st_size
        self.disk = open_disk(path).read(0, SIZE)

    def bat_page_with(self, block: int, file_offset: int) -> bytes:
        page = bytearray(self.bat_page)
        struct.pack_into("<Q", page, 8 * self.layout.bat_index(block), FULLY_PRESENT | (file_offset // MiB) << 20)
        return bytes(page)

    def append(self, data: bytes) -> int:
        """Write ``data`` at the (MiB-aligned) end of the file, as a writer does before logging the BAT."""
        at = self.size
        with open(self.path, "r+b") as f:
            f.seek(at)
            f.write(data)
        self.size = at + len(data)
        return at


@pytest.fixture
def case(tmp_path: Path) -> LogCase:
    rng = random.Random(21)
    spec = VhdxSpec(SIZE, blocks={block: Block(FULLY_PRESENT, rng.randbytes(MiB)) for block in range(4)})
    write_vhdx(tmp_path / "log.vhdx", spec, order=[2, 0, 3, 1])
    return LogCase(tmp_path / "log.vhdx")


def _open(path: Path) -> VhdxDisk:
    disk = open_disk(path)
    assert isinstance(disk, VhdxDisk)
    return disk


@pytest.mark.oracle
def test_log_replay_equals_qemu_repair(tmp_path: Path) -> None:
    """qemu made the file; the log rewrites a BAT page, zeroes and rewrites payload sectors. An older
    sequence and a torn entry after the head are ignored. qemu's `check -r all` replay is the oracle."""
    path = tmp_path / "qemu.vhdx"
    qemu_img("create", "-q", "-f", "vhdx", "-o", "block_size=1M", path, str(SIZE))
    qemu_io(path, "write -P 0x11 0 4M")
    case = LogCase(path)
    rng = random.Random(5)
    new_block = case.append(rng.randbytes(MiB))
    size = case.size
    first = LogEntrySpec(32768, 10, 32768, [LogWrite(case.layout.bat_offset, case.bat_page_with(7, new_block))],
                         size, size)
    second = LogEntrySpec(32768 + 8192, 11, 32768, [
        LogWrite(case.block_at[1] + 12288, zero_length=8192),
        LogWrite(case.block_at[2] + 4096, rng.randbytes(4096))], size, size)
    older = LogEntrySpec(256 * 1024, 3, 256 * 1024, [LogWrite(case.block_at[1], rng.randbytes(4096))], size, size)
    torn = LogEntrySpec(32768 + 8192 + 12288, 12, 32768, [LogWrite(case.block_at[1], rng.randbytes(4096))],
                        size, size, corrupt_checksum=True)
    write_log(path, [older, first, second, torn], LOG_GUID)
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    repaired = tmp_path / "repaired.vhdx"
    shutil.copy(path, repaired)
    qemu_img("check", "-r", "all", repaired)
    expected = to_raw(repaired, tmp_path / "repaired.raw", "vhdx").read_bytes()
    disk = _open(path)
    try:
        assert disk.log_replayed_entries == 2
        got = disk.read(0, SIZE)
        assert got == expected
        assert got[7 * MiB:8 * MiB] != bytes(MiB) and got[MiB + 12288:MiB + 20480] == bytes(8192)
    finally:
        disk.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_sequence_wrapping_round_the_log_follows_the_tail(case: LogCase) -> None:
    """The active sequence starts in the last log sector and continues at the start of the log.

    qemu 7.2 is no oracle here: it keeps the first sequence it meets from offset 0 and never checks
    that the head's Tail lies inside it, so it replays only the part after the wrap.
    """
    rng = random.Random(6)
    new_block = case.append(rng.randbytes(MiB))
    length = case.layout.log_length
    sector = rng.randbytes(4096)
    entries = [LogEntrySpec(length - 4096, 40, length - 4096,
                            [LogWrite(case.layout.bat_offset, case.bat_page_with(6, new_block))], case.size, case.size),
               LogEntrySpec(4096, 41, length - 4096, [LogWrite(case.block_at[3] + 8192, sector)], case.size,
                            case.size)]
    assert len(log_entry_bytes(entries[0], LOG_GUID)) == 8192  # its data sector is the log's first sector
    write_log(case.path, entries, LOG_GUID)
    disk = _open(case.path)
    expected = bytearray(case.disk)
    expected[6 * MiB:7 * MiB] = disk.image.read_at(new_block, MiB)
    expected[3 * MiB + 8192:3 * MiB + 12288] = sector
    assert disk.log_replayed_entries == 2
    assert disk.read(0, SIZE) == expected
    disk.close()


def test_entries_before_the_tail_are_not_replayed(case: LogCase) -> None:
    zeroed = LogEntrySpec(0, 5, 0, [LogWrite(case.block_at[0], zero_length=4096)], case.size, case.size)
    later = LogEntrySpec(8192, 6, 8192, [LogWrite(case.block_at[0] + 4096, zero_length=4096)], case.size, case.size)
    write_log(case.path, [zeroed, later], LOG_GUID)
    disk = _open(case.path)
    assert disk.log_replayed_entries == 1
    assert disk.read(0, 4096) == case.disk[:4096]
    assert disk.read(4096, 4096) == bytes(4096)
    disk.close()


def test_later_writes_win_within_and_across_entries(case: LogCase) -> None:
    a, b, c = (bytes([value]) * 4096 for value in (0xA1, 0xB2, 0xC3))
    page = case.block_at[2]
    first = LogEntrySpec(0, 1, 0, [LogWrite(page, a), LogWrite(page, zero_length=3 * 4096),
                                   LogWrite(page + 4096, b)], case.size, case.size)
    second = LogEntrySpec(12288, 2, 0, [LogWrite(page + 8192, c), LogWrite(page + 8192, zero_length=4096)],
                          case.size, case.size)
    write_log(case.path, [first, second], LOG_GUID)
    disk = _open(case.path)
    start = 2 * MiB
    assert disk.read(start, 4 * 4096) == bytes(4096) + b + bytes(4096) + case.disk[start + 12288:start + 16384]
    disk.close()


def test_last_file_offset_extends_the_file_with_zeros(case: LogCase) -> None:
    """A block placed past the physical end but inside LastFileOffset reads as zeros plus logged sectors."""
    beyond = case.size
    sector = random.Random(7).randbytes(4096)
    entry = LogEntrySpec(0, 9, 0, [LogWrite(case.layout.bat_offset, case.bat_page_with(5, beyond)),
                                   LogWrite(beyond + 8192, sector)], case.size, beyond + MiB)
    write_log(case.path, [entry], LOG_GUID)
    disk = _open(case.path)
    assert disk.read(5 * MiB, MiB) == bytes(8192) + sector + bytes(MiB - 12288)
    disk.close()


@pytest.mark.parametrize("entries", ["torn", "other-guid", "none"])
def test_log_guid_without_valid_entries_replays_nothing(case: LogCase, entries: str) -> None:
    specs = {"torn": [LogEntrySpec(0, 1, 0, [LogWrite(case.block_at[0], zero_length=4096)], case.size, case.size,
                                   corrupt_checksum=True)],
             "other-guid": [LogEntrySpec(0, 1, 0, [LogWrite(case.block_at[0], zero_length=4096)], case.size,
                                         case.size, log_guid=uuid.uuid4())],
             "none": []}[entries]
    write_log(case.path, specs, LOG_GUID)
    disk = _open(case.path)
    assert disk.log_replayed_entries == 0
    assert any("no valid entries" in warning for warning in disk.info.warnings)
    assert disk.read(0, SIZE) == case.disk
    disk.close()


def _header_field(offset: int, value: bytes) -> object:
    def edit(raw: bytearray) -> None:
        raw[offset:offset + len(value)] = value
    return edit


@pytest.mark.parametrize(("field", "value", "error"), [
    (64, struct.pack("<H", 1), VhdxLogInvalid),  # LogVersion
    (72, struct.pack("<Q", MiB + 4096), VhdxLogInvalid),  # LogOffset not 1 MiB aligned
    (68, struct.pack("<I", 0), VhdxLogInvalid),  # LogLength 0 with a LogGuid
    (72, struct.pack("<Q", 200 * MiB), Truncated),  # log past the end of the file
])
def test_bad_log_location(case: LogCase, field: int, value: bytes, error: type[VhdfixError]) -> None:
    write_log(case.path, [], LOG_GUID)
    with open(case.path, "r+b") as f:
        for slot in (0, 1):
            rewrite_header(f, slot, _header_field(field, value))
    with pytest.raises(error):
        open_disk(case.path)


@pytest.mark.parametrize(("target", "error", "message"), [
    (64 * 1024, VhdxLogInvalid, "file headers"),
    (MiB + 512 * 1024, VhdxLogInvalid, "the log itself"),
])
def test_logged_write_into_forbidden_places(case: LogCase, target: int, error: type[VhdfixError],
                                            message: str) -> None:
    write_log(case.path, [LogEntrySpec(0, 1, 0, [LogWrite(target, bytes(4096))], case.size, case.size)], LOG_GUID)
    with pytest.raises(error, match=message):
        open_disk(case.path)


def test_flushed_file_offset_past_the_end_means_truncated(case: LogCase) -> None:
    entry = LogEntrySpec(0, 1, 0, [LogWrite(case.block_at[0], zero_length=4096)], case.size + MiB, case.size + MiB)
    write_log(case.path, [entry], LOG_GUID)
    with pytest.raises(Truncated, match="truncated"):
        open_disk(case.path)


def test_region_table_may_be_updated_through_the_log(case: LogCase) -> None:
    """Only headers are outside the log's reach (§2.2.2); region tables are read as replayed."""
    writes = []
    with open(case.path, "rb") as f:
        for offset in (192 * 1024, 256 * 1024):
            f.seek(offset)
            table = bytearray(f.read(65536))
            count = struct.unpack_from("<I", table, 8)[0]
            struct.pack_into("<16sQII", table, 16 + 32 * count, uuid.uuid4().bytes_le, 5 * MiB, MiB, 1)
            struct.pack_into("<I", table, 8, count + 1)
            struct.pack_into("<I", table, 4, crc_zeroed(bytes(table), 4))
            writes.append(LogWrite(offset, bytes(table[:4096])))
    write_log(case.path, [LogEntrySpec(0, 1, 0, writes, case.size, case.size)], LOG_GUID)
    with pytest.raises(UnsupportedFormat, match="unknown region"):
        open_disk(case.path)


SECOND_ENTRY = 8192  # the fuzzed log's second entry: its offset in the log
SECOND_ENTRY_LENGTH_FIELD = set(range(SECOND_ENTRY + 8, SECOND_ENTRY + 12))  # MS-VHDX 2.3.1.1 EntryLength


class LogFuzzBase(NamedTuple):
    """A small VHDX whose log holds two entries of 8 KiB, from the start of the log, and the disk it holds."""

    file: bytes
    replayed: bytes  # the virtual disk with both entries replayed
    first_entry_replayed: bytes  # the virtual disk with only the first entry replayed

    def __repr__(self) -> str:  # short, for Hypothesis's report of a failing example
        return f"LogFuzzBase({len(self.file)}-byte VHDX)"


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> LogFuzzBase:
    path = tmp_path_factory.mktemp("logfuzz") / "f.vhdx"
    rng = random.Random(8)
    spec = VhdxSpec(SIZE, blocks={block: Block(FULLY_PRESENT, rng.randbytes(4096)) for block in range(3)})
    write_vhdx(path, spec)
    size = path.stat().st_size
    first, second = rng.randbytes(4096), rng.randbytes(4096)
    # Payload blocks 0-2 are stored at 4, 5 and 6 MiB.
    entries = [LogEntrySpec(0, 7, 0, [LogWrite(4 * MiB + 4096, first), LogWrite(5 * MiB, zero_length=8192)],
                            size, size),
               LogEntrySpec(SECOND_ENTRY, 8, 0, [LogWrite(6 * MiB + 4096, second)], size, size)]
    write_log(path, entries, LOG_GUID)
    first_entry_replayed = bytearray(merged_reader(spec, None)(0, SIZE))
    first_entry_replayed[4096:8192] = first
    first_entry_replayed[MiB:MiB + 8192] = bytes(8192)
    replayed = bytearray(first_entry_replayed)
    replayed[2 * MiB + 4096:2 * MiB + 8192] = second
    return LogFuzzBase(path.read_bytes(), bytes(replayed), bytes(first_entry_replayed))


def _tears_only_the_second_entry(changed: set[int]) -> bool:
    """Whether changing the log bytes at ``changed`` and leaving the old checksums certainly invalidates the
    second entry and leaves the first intact. CRC-32C detects every change within 4 bytes, unless the change is
    to EntryLength, which moves the range the checksum covers."""
    return bool(changed) and min(changed) >= SECOND_ENTRY and max(changed) - min(changed) < 4 \
        and not changed & SECOND_ENTRY_LENGTH_FIELD


@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(st.tuples(st.integers(0, 2 * 4096 + 4096 - 1), st.integers(1, 255)), min_size=1,
                          max_size=5), fix_checksums=st.booleans())
@example(mutations=[], fix_checksums=False)
@example(mutations=[(SECOND_ENTRY + 200, 0x40)], fix_checksums=False)
def test_mutated_logs_fail_cleanly_and_intact_entries_replay(fuzz_base: LogFuzzBase,
                                                             tmp_path_factory: pytest.TempPathFactory,
                                                             mutations: list[tuple[int, int]],
                                                             fix_checksums: bool) -> None:
    """A file with a mutated log opens or is refused with a VhdfixError, never another exception. Unmutated, it
    replays both entries; with only the second entry made invalid, it replays the first alone."""
    data = bytearray(fuzz_base.file)
    log = MiB
    for position, xor in mutations:
        data[log + position] ^= xor
    changed = {position for position, _ in mutations if data[log + position] != fuzz_base.file[log + position]}
    if fix_checksums:
        for start in (0, SECOND_ENTRY):
            length = struct.unpack_from("<I", data, log + start + 8)[0]
            if 0 < length <= 8192 and length % 4096 == 0:
                raw = bytes(data[log + start:log + start + length])
                struct.pack_into("<I", data, log + start + 4, crc_zeroed(raw, 4))
    path = tmp_path_factory.getbasetemp() / "logfuzz.vhdx"
    path.write_bytes(bytes(data))
    if not changed:
        entries, expected = 2, fuzz_base.replayed
    elif not fix_checksums and _tears_only_the_second_entry(changed):
        entries, expected = 1, fuzz_base.first_entry_replayed
    else:
        read_through(path, SIZE)
        return
    disk = _open(path)
    try:
        assert disk.log_replayed_entries == entries
        assert disk.read(0, SIZE) == expected
    finally:
        disk.close()
