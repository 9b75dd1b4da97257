"""Recovery rules on small synthetic hives and logs built here from the regf spec.

Each builder writes only what recovery looks at: base blocks, a chain of empty
hive bins, HvLE entries with their Marvin32 hashes, DIRT dirty vectors.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vhdfix.errors import HiveCorrupt
from vhdfix.registry.base_block import checksum, read_base_block
from vhdfix.registry.marvin32 import marvin32
from vhdfix.registry.recovery import recover
from vhdfix.registry.values import typed_value

BIN = 4096
TIMESTAMP = 0x01D295059E68E89E


def base_block(*, seq1: int, seq2: int, hbins: int, file_type: int = 0, flags: int = 0,
               timestamp: int = TIMESTAMP) -> bytearray:
    block = bytearray(BIN)
    struct.pack_into("<4sIIQIIIIIII", block, 0, b"regf", seq1, seq2, timestamp, 1, 5, file_type, 1, 0x20, hbins, 1)
    struct.pack_into("<I", block, 144, flags)
    struct.pack_into("<I", block, 508, checksum(block))
    return block


def hive_bin(offset: int, marker: bytes = b"") -> bytes:
    """An hbin of 4096 bytes holding one free cell, with ``marker`` at the start of the cell data."""
    data = bytearray(BIN)
    struct.pack_into("<4sII", data, 0, b"hbin", offset, BIN)
    struct.pack_into("<i", data, 32, BIN - 32)
    data[36:36 + len(marker)] = marker
    return bytes(data)


def primary(*, seq1: int, seq2: int, bins: int, flags: int = 0) -> bytes:
    body = b"".join(hive_bin(i * BIN) for i in range(bins))
    return bytes(base_block(seq1=seq1, seq2=seq2, hbins=bins * BIN, flags=flags)) + body


def hvle_entry(seq: int, hbins: int, pages: list[tuple[int, bytes]], flags: int = 0) -> bytearray:
    body = b"".join(struct.pack("<II", offset, len(data)) for offset, data in pages)
    body += b"".join(data for _, data in pages)
    size = -(-(40 + len(body)) // 512) * 512
    body = body.ljust(size - 40, b"\0")
    head = b"HvLE" + struct.pack("<IIIII", size, flags, seq, hbins, len(pages))
    hash_1 = marvin32(body)
    hash_2 = marvin32(head + struct.pack("<Q", hash_1))
    return bytearray(head + struct.pack("<QQ", hash_1, hash_2) + body)


def new_log(first_seq: int, hbins: int, entries: list[bytes]) -> bytes:
    block = base_block(seq1=first_seq, seq2=first_seq, hbins=hbins, file_type=6)
    return bytes(block[:512]) + b"".join(entries)


def marked(offset: int, text: str) -> tuple[int, bytes]:
    return offset, hive_bin(offset, text.encode())


def marker_at(image: bytes, offset: int, length: int) -> bytes:
    return image[BIN + offset + 36:BIN + offset + 36 + length]


def old_log(hbins: int, pages: dict[int, bytes], *, timestamp: int = TIMESTAMP, seq: int = 2) -> bytes:
    """DIRT log: ``pages`` maps 512-byte page numbers of the hive bins data to their contents."""
    bitmap = bytearray(hbins // 512 // 8)
    for page in pages:
        bitmap[page // 8] |= 1 << (page % 8)
    head = bytes(base_block(seq1=seq, seq2=seq, hbins=hbins, file_type=1, timestamp=timestamp)[:512])
    vector = b"DIRT" + bytes(bitmap)
    start = -(-(512 + len(vector)) // 512) * 512
    return (head + vector).ljust(start, b"\0") + b"".join(pages[page] for page in sorted(pages))


# --- base block ---------------------------------------------------------------------------------


def test_checksum_special_cases() -> None:
    block = bytearray(512)
    assert checksum(block) == 1  # XOR 0 is stored as 1
    struct.pack_into("<I", block, 0, 0xFFFFFFFF)
    assert checksum(block) == 0xFFFFFFFE  # XOR -1 is stored as -2
    struct.pack_into("<I", block, 4, 0x12345678)
    assert checksum(block) == 0xFFFFFFFF ^ 0x12345678
    struct.pack_into("<I", block, 508, 0xDEADBEEF)  # the checksum field itself is not covered
    assert checksum(block) == 0xFFFFFFFF ^ 0x12345678


def test_is_dirty() -> None:
    assert not read_base_block(base_block(seq1=7, seq2=7, hbins=BIN)).is_dirty
    assert read_base_block(base_block(seq1=8, seq2=7, hbins=BIN)).is_dirty
    broken = base_block(seq1=7, seq2=7, hbins=BIN)
    broken[100] ^= 1
    assert read_base_block(broken).is_dirty
    assert not read_base_block(broken).valid


# --- new format ---------------------------------------------------------------------------------


def test_chain_stops_at_a_gap() -> None:
    hive = primary(seq1=10, seq2=9, bins=2)
    log = new_log(9, 2 * BIN, [
        hvle_entry(9, 2 * BIN, [marked(0, "nine")]),
        hvle_entry(10, 2 * BIN, [marked(BIN, "ten")]),
        hvle_entry(12, 2 * BIN, [marked(0, "twelve")]),
    ])
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "recovered"
    assert result.entries_applied == 2
    assert marker_at(result.data, 0, 4) == b"nine"
    assert marker_at(result.data, BIN, 3) == b"ten"
    assert result.max_sequence == 12
    base = read_base_block(result.data)
    assert (base.primary_sequence_number, base.secondary_sequence_number) == (10, 10)
    assert not base.is_dirty
    assert "12 found where 11 was expected" in result.logs[0].detail


def test_bad_hash_stops_recovery_in_that_log() -> None:
    hive = primary(seq1=10, seq2=9, bins=1)
    bad = hvle_entry(10, BIN, [marked(0, "ten")])
    bad[-1] ^= 0xFF  # a torn write: Hash-1 no longer matches
    log = new_log(9, BIN, [hvle_entry(9, BIN, [marked(0, "nine")]), bad, hvle_entry(11, BIN, [marked(0, "11")])])
    result = recover(hive, [("H.LOG1", log)])
    assert result.entries_applied == 1
    assert marker_at(result.data, 0, 4) == b"nine"
    assert any("entry 10: bad Hash-1" in warning for warning in result.warnings)


def test_logs_are_ordered_by_sequence_and_resume_at_n_plus_1() -> None:
    hive = primary(seq1=21, seq2=20, bins=1)
    older = new_log(20, BIN, [hvle_entry(20, BIN, [marked(0, "a")]), hvle_entry(21, BIN, [marked(0, "b")])])
    newer = new_log(22, BIN, [hvle_entry(22, BIN, [marked(0, "c")]), hvle_entry(23, BIN, [marked(0, "d")])])
    result = recover(hive, [("H.LOG1", newer), ("H.LOG2", older)])  # LOG1 need not be the older one
    assert result.entries_applied == 4
    assert marker_at(result.data, 0, 1) == b"d"
    assert [report.entries_applied for report in result.logs] == [2, 2]
    assert read_base_block(result.data).primary_sequence_number == 23


def test_partial_reconcile_gap_between_primary_and_logs_is_allowed() -> None:
    # Like SYSTEM_B: primary 1622/1621, logs start at 2107 (regf "Missing log entries" note).
    hive = primary(seq1=1622, seq2=1621, bins=1)
    log = new_log(2107, BIN, [hvle_entry(2107, BIN, [marked(0, "late")])])
    result = recover(hive, [("H.LOG1", log)])
    assert result.entries_applied == 1
    assert marker_at(result.data, 0, 4) == b"late"


def test_entries_older_than_the_primary_are_not_applied() -> None:
    hive = primary(seq1=31, seq2=30, bins=1)
    log = new_log(25, BIN, [hvle_entry(25, BIN, [marked(0, "old")])])
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "dirty-no-log"
    assert result.data == hive
    assert result.logs[0].status == "unused"


def test_growth_and_flags_come_from_the_entry() -> None:
    hive = primary(seq1=5, seq2=4, bins=1)
    log = new_log(4, 3 * BIN, [hvle_entry(4, 3 * BIN, [marked(BIN, "b1"), marked(2 * BIN, "b2")], flags=1)])
    result = recover(hive, [("H.LOG1", log)])
    base = read_base_block(result.data)
    assert base.hive_bins_data_size == 3 * BIN
    assert base.flags & 1
    assert len(result.data) == BIN + 3 * BIN
    assert marker_at(result.data, 2 * BIN, 2) == b"b2"


def test_growth_beyond_the_input_files_is_refused_without_allocating() -> None:
    hive = primary(seq1=5, seq2=4, bins=1)
    huge = 0x7FFFF000
    log = new_log(4, BIN, [hvle_entry(4, huge, [marked(0, "x")])])
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "dirty-no-log"
    assert len(result.data) == len(hive)
    assert any("larger than the input files" in warning for warning in result.warnings)


def test_invalid_primary_base_block_uses_only_the_latest_log() -> None:
    hive = bytearray(primary(seq1=5, seq2=5, bins=1))
    hive[508:512] = b"INVL"
    older = new_log(3, BIN, [hvle_entry(3, BIN, [marked(0, "three")])])
    latest = new_log(5, BIN, [hvle_entry(5, BIN, [marked(0, "five")]), hvle_entry(6, BIN, [marked(0, "six")])])
    result = recover(bytes(hive), [("H.LOG1", older), ("H.LOG2", latest)])
    assert result.state == "recovered"
    assert result.entries_applied == 2
    assert marker_at(result.data, 0, 3) == b"six"
    base = read_base_block(result.data)
    assert base.valid and not base.is_dirty and base.file_type == 0
    assert [report.status for report in result.logs] == ["unused", "applied"]


def test_clean_hive_ignores_even_newer_logs() -> None:
    hive = primary(seq1=9, seq2=9, bins=1)
    log = new_log(9, BIN, [hvle_entry(9, BIN, [marked(0, "nope")])])
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "clean"
    assert result.data == hive
    assert result.max_sequence == 9


def test_max_sequence_counts_log_entries_of_a_clean_hive() -> None:
    hive = primary(seq1=9, seq2=9, bins=1)
    log = new_log(9, BIN, [hvle_entry(9, BIN, [marked(0, "a")]), hvle_entry(10, BIN, [marked(0, "b")])])
    assert recover(hive, [("H.LOG1", log)]).max_sequence == 10


def test_short_primary_is_corrupt() -> None:
    with pytest.raises(HiveCorrupt):
        recover(b"regf" + bytes(100), [])


# --- old format ----------------------------------------------------------------------------------


def test_dirty_pages_start_after_a_long_dirty_vector() -> None:
    # 600 bins: the bitmap is 600 bytes, so the pages start at align512(512 + 4 + 600) = 1536, not 1024.
    bins = 600
    hive = primary(seq1=3, seq2=2, bins=bins)
    page = hive_bin(550 * BIN, b"from the log")
    log = old_log(bins * BIN, {550 * 8 + i: page[i * 512:(i + 1) * 512] for i in range(8)})
    assert log[1536:1540] == b"hbin"
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "recovered"
    assert marker_at(result.data, 550 * BIN, 12) == b"from the log"
    base = read_base_block(result.data)
    assert (base.primary_sequence_number, base.secondary_sequence_number) == (3, 3)


def test_old_log_with_another_timestamp_is_not_applied() -> None:
    hive = primary(seq1=3, seq2=2, bins=1)
    log = old_log(BIN, {0: hive_bin(0, b"x")[:512]}, timestamp=TIMESTAMP + 1)
    result = recover(hive, [("H.LOG1", log)])
    assert result.state == "dirty-no-log"
    assert "timestamp" in result.logs[0].detail


def test_old_recovery_stops_at_an_invalid_dirty_bin() -> None:
    hive = primary(seq1=3, seq2=2, bins=3)
    good = hive_bin(BIN, b"good")
    bad = bytearray(hive_bin(2 * BIN, b"bad"))
    bad[0:4] = b"junk"
    pages = {8 + i: good[i * 512:(i + 1) * 512] for i in range(8)}
    pages.update({16 + i: bytes(bad[i * 512:(i + 1) * 512]) for i in range(8)})
    result = recover(hive, [("H.LOG1", old_log(3 * BIN, pages))])
    assert marker_at(result.data, BIN, 4) == b"good"
    assert result.data[BIN + 2 * BIN:BIN + 2 * BIN + 4] == b"hbin"  # the invalid bin was not written
    assert any("0x2000 is invalid" in warning for warning in result.warnings)


def test_two_old_logs_that_disagree_are_not_guessed_between() -> None:
    hive = primary(seq1=3, seq2=2, bins=1)
    one = old_log(BIN, {0: hive_bin(0, b"one")[:512]})
    two = old_log(BIN, {0: hive_bin(0, b"two")[:512]})
    result = recover(hive, [("H.LOG1", one), ("H.LOG2", two)])
    assert result.state == "dirty-no-log"
    assert recover(hive, [("H.LOG1", one), ("H.LOG2", one)]).state == "recovered"


# --- robustness ----------------------------------------------------------------------------------

_HIVE = primary(seq1=10, seq2=9, bins=2)
_LOG = new_log(9, 2 * BIN, [hvle_entry(9, 2 * BIN, [marked(0, "a")]), hvle_entry(10, 3 * BIN, [marked(BIN, "b")])])
_OLD = old_log(2 * BIN, {i: hive_bin(0, b"x")[i * 512:(i + 1) * 512] for i in range(8)})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([_LOG, _OLD]), st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=8),
       st.integers(0, 4096))
def test_damaged_logs_never_raise_and_never_touch_the_input(log: bytes, edits: list[tuple[int, int]],
                                                             cut: int) -> None:
    damaged = bytearray(log)
    for position, byte in edits:
        if position < len(damaged):
            damaged[position] = byte
    damaged = damaged[:len(damaged) - cut]
    primary_copy, log_copy = bytearray(_HIVE), bytes(damaged)
    result = recover(primary_copy, [("H.LOG1", log_copy)])
    assert primary_copy == _HIVE
    assert log_copy == bytes(damaged)
    assert result.state in ("recovered", "dirty-no-log")
    assert len(result.data) <= len(_HIVE) + len(log_copy)


def test_typed_values() -> None:
    assert typed_value(4, b"\x01\x00\x00\x00") == 1
    assert typed_value(5, b"\x00\x00\x00\x01") == 1
    assert typed_value(11, (2**40).to_bytes(8, "little")) == 2**40
    assert typed_value(4, b"\x01\x00") == b"\x01\x00"  # wrong size: raw bytes
    assert typed_value(1, "abc\0junk".encode("utf-16-le")) == "abc"
    assert typed_value(2, "%SystemRoot%".encode("utf-16-le")) == "%SystemRoot%"
    assert typed_value(7, "a\0bb\0\0".encode("utf-16-le")) == ["a", "bb", ""]
    assert typed_value(7, "a\0bb".encode("utf-16-le")) == ["a", "bb"]
    assert typed_value(7, b"") == []
    assert typed_value(3, b"\x01\x02") == b"\x01\x02"
