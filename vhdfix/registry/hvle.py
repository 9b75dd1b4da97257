"""New-format transaction logs (Windows 8.1+): HvLE log entries and their replay.

regf spec, 'Format of transaction log files' / 'New format', and 'Multiple
transaction log files' / 'New format'.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from vhdfix.registry.log_file import LogReport, TransactionLog
from vhdfix.registry.marvin32 import marvin32
from vhdfix.registry.regf_format import (
    BASE_BLOCK_FLAG_KTM_LOCKED,
    BASE_BLOCK_SIZE,
    DIRTY_PAGE_REFERENCE_SIZE,
    HIVE_BIN_ALIGNMENT,
    LOG_ENTRY,
    LOG_ENTRY_HASH_2_COVERAGE,
    LOG_ENTRY_HEADER_SIZE,
    LOG_ENTRY_SIGNATURE,
    SECTOR_SIZE,
)


@dataclass(frozen=True)
class DirtyPage:
    offset: int  # relative to the start of the hive bins data
    size: int
    source: int  # where the page's bytes start in the log file


@dataclass(frozen=True)
class LogEntry:
    offset: int  # in the log file
    size: int
    flags: int
    sequence_number: int
    hive_bins_data_size: int
    hash_1: int
    hash_2: int
    pages: tuple[DirtyPage, ...]


@dataclass(frozen=True)
class EntryScan:
    """The well-formed entries at the start of a log, and why the scan stopped early (if it did).

    Hitting a block that does not start with ``HvLE`` is the normal end of the
    entries and gives no reason.
    """

    entries: tuple[LogEntry, ...]
    stop_reason: str | None


def scan_entries(data: bytes) -> EntryScan:
    """Parse entry headers and page references from offset 512, without checking hashes.

    Every size and offset is checked before use; each step advances at least
    512 bytes, so the loop is bounded by the log size.
    """
    view = memoryview(data)
    entries: list[LogEntry] = []
    offset = SECTOR_SIZE
    while offset + LOG_ENTRY_HEADER_SIZE <= len(view):
        if view[offset:offset + 4] != LOG_ENTRY_SIGNATURE:
            break
        header = LOG_ENTRY.parse(view, offset)
        where = f"entry at log offset {offset:#x}"
        size = header.size
        if size < SECTOR_SIZE or size % SECTOR_SIZE or offset + size > len(view):
            return EntryScan(tuple(entries), f"{where}: bad size {size:#x}")
        # regf spec, 'New format' / 'Log entries', note 8: the size must be a multiple of 4096.
        if header.hive_bins_data_size == 0 or header.hive_bins_data_size % HIVE_BIN_ALIGNMENT:
            return EntryScan(tuple(entries), f"{where}: bad hive bins data size {header.hive_bins_data_size:#x}")
        count = header.dirty_pages_count
        references_end = offset + LOG_ENTRY_HEADER_SIZE + count * DIRTY_PAGE_REFERENCE_SIZE
        if references_end > offset + size:
            return EntryScan(tuple(entries), f"{where}: {count} dirty page references do not fit in it")
        pages: list[DirtyPage] = []
        source = references_end
        for page_offset, page_size in struct.iter_unpack("<II", view[offset + LOG_ENTRY_HEADER_SIZE:references_end]):
            if page_offset + page_size > header.hive_bins_data_size:
                return EntryScan(tuple(entries), f"{where}: dirty page {page_offset:#x}+{page_size:#x} lies "
                                                 "beyond its hive bins data size")
            if source + page_size > offset + size:
                return EntryScan(tuple(entries), f"{where}: dirty pages run past its end")
            pages.append(DirtyPage(page_offset, page_size, source))
            source += page_size
        entries.append(LogEntry(
            offset=offset,
            size=size,
            flags=header.flags,
            sequence_number=header.sequence_number,
            hive_bins_data_size=header.hive_bins_data_size,
            hash_1=header.hash_1,
            hash_2=header.hash_2,
            pages=tuple(pages),
        ))
        offset += size
    return EntryScan(tuple(entries), None)


def hash_error(data: bytes, entry: LogEntry) -> str | None:
    """regf spec, 'New format' / 'Log entries', notes 1-2: check Hash-2 (cheap) and then Hash-1."""
    view = memoryview(data)
    if marvin32(view[entry.offset:entry.offset + LOG_ENTRY_HASH_2_COVERAGE]) != entry.hash_2:
        return "bad Hash-2"
    if marvin32(view[entry.offset + LOG_ENTRY_HEADER_SIZE:entry.offset + entry.size]) != entry.hash_1:
        return "bad Hash-1"
    return None


@dataclass
class Replay:
    """The primary image while entries are written into it, and the base block fields they set."""

    image: bytearray
    hive_bins_data_size: int
    flags: int
    sequence_number: int | None = None
    entries_applied: int = 0

    def apply(self, data: bytes, entry: LogEntry) -> None:
        """regf spec, 'New format' / 'Log entries', notes 9 and 11: grow, write the pages, take the flag."""
        needed = BASE_BLOCK_SIZE + entry.hive_bins_data_size
        if len(self.image) < needed:
            self.image.extend(bytes(needed - len(self.image)))
        source = memoryview(data)
        for page in entry.pages:
            start = BASE_BLOCK_SIZE + page.offset
            self.image[start:start + page.size] = source[page.source:page.source + page.size]
        self.sequence_number = entry.sequence_number
        self.hive_bins_data_size = entry.hive_bins_data_size
        self.flags = (self.flags & ~BASE_BLOCK_FLAG_KTM_LOCKED) | (entry.flags & BASE_BLOCK_FLAG_KTM_LOCKED)
        self.entries_applied += 1


def replay_logs(
    replay: Replay,
    logs: Sequence[tuple[TransactionLog, EntryScan]],
    *,
    oldest_sequence: int | None,
    hive_bins_limit: int,
) -> tuple[list[LogReport], list[str]]:
    """Apply the chain of entries from ``logs``, which are ordered oldest first.

    regf spec, 'Log entries', notes 5, 7 and 8, and 'Multiple transaction log
    files' / 'New format': the first entry applied must carry the log base
    block's primary sequence number, not less than ``oldest_sequence`` (the
    primary's secondary sequence number, None when its base block is invalid);
    a gap between the primary and the logs is allowed (partial reconcile).
    Each next entry must be N + 1, also across logs. A log stops at a gap, a
    bad hash or a malformed entry, and the next log resumes at N + 1.
    ``hive_bins_limit`` bounds growth by the size of the input files.
    """
    reports: list[LogReport] = []
    warnings: list[str] = []
    for log, scan in logs:
        first_expected = log.base_block.primary_sequence_number
        if replay.sequence_number is not None:
            first_expected = replay.sequence_number + 1
        elif oldest_sequence is not None and first_expected < oldest_sequence:
            reports.append(LogReport(log.name, "unused", f"its entries start at {first_expected}, before the "
                                                         f"primary's secondary sequence number {oldest_sequence}"))
            continue
        expected = first_expected
        stopped: str | None = None
        for entry in scan.entries:
            if entry.sequence_number != expected:
                stopped = f"entry {entry.sequence_number} found where {expected} was expected"
                break
            problem = (f"hive bins data size {entry.hive_bins_data_size:#x} is larger than the input files"
                       if entry.hive_bins_data_size > hive_bins_limit else hash_error(log.data, entry))
            if problem is not None:
                stopped = f"entry {entry.sequence_number}: {problem}"
                warnings.append(f"{log.name}: {stopped}; recovery stops before it")
                break
            replay.apply(log.data, entry)
            expected += 1
        else:
            if scan.stop_reason is not None:
                stopped = scan.stop_reason
                warnings.append(f"{log.name}: {stopped}; recovery stops there")
        applied = expected - first_expected
        if applied:
            detail = f"entry {first_expected}" if applied == 1 else f"entries {first_expected}-{expected - 1}"
            reports.append(LogReport(log.name, "applied", detail + (f" (then {stopped})" if stopped else ""), applied))
        else:
            reports.append(LogReport(log.name, "unused", stopped or "no log entries"))
    return reports, warnings
