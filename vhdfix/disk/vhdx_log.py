"""VHDX log replay, in memory (MS-VHDX §2.3).

The log is a circular buffer of 4 KiB sectors holding entries; each entry
carries zero descriptors and data descriptors (with their data sectors) that
describe writes to the file's metadata. A file whose current header has a
non-zero LogGuid must have its active log sequence replayed before anything
else is read (§2.2.2, §2.3.3). vhdfix never writes the image, so the replay
is an overlay: :class:`VhdxFileView` serves file reads with the logged writes
applied, and every later read (region tables, metadata, BAT, payload) goes
through it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from vhdfix.disk.crc32c import crc32c
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.vhdx_format import (
    DATA_DESCRIPTOR,
    DATA_DESCRIPTOR_SIGNATURE,
    DATA_SECTOR_SIGNATURE,
    HEADER_OFFSETS,
    HEADER_SIZE,
    LOG_DESCRIPTOR_SIZE,
    LOG_ENTRY_CHECKSUM_OFFSET,
    LOG_ENTRY_HEADER,
    LOG_ENTRY_HEADER_SIZE,
    LOG_ENTRY_SIGNATURE,
    LOG_SECTOR_SIZE,
    LOG_VERSION,
    REGION_ALIGNMENT,
    ZERO_DESCRIPTOR,
    ZERO_DESCRIPTOR_SIGNATURE,
)
from vhdfix.errors import Truncated, VhdxLogInvalid, VhdxLogPending
from vhdfix.layout import Record

HEADERS_END = HEADER_OFFSETS[1] + HEADER_SIZE  # the log may never write the file identifier or headers (§2.2.2)
CRC_CHUNK_SECTORS = 256
# Entries are looked for at every 4 KiB position and each candidate is read whole to check its CRC, so a log full of
# plausible headers with bad checksums would be read over and over. A real log is read about once.
SCAN_BUDGET_FACTOR = 4
SCAN_BUDGET_MINIMUM = 64 * 1024 * 1024


@dataclass(frozen=True)
class LoggedWrite:
    """One descriptor: ``length`` zero bytes, or one 4 KiB sector rebuilt from a data sector."""

    file_offset: int
    length: int
    data_sector_at: int | None = None  # file offset of the data sector; None for a zero descriptor
    leading: bytes = b""
    trailing: bytes = b""


@dataclass(frozen=True)
class LogEntry:
    position: int  # byte offset inside the log
    length: int
    sequence_number: int
    tail: int
    flushed_file_offset: int
    last_file_offset: int
    writes: tuple[LoggedWrite, ...]


class _LogScanner:
    """Reads and validates entries of one log (§2.3.1), each position at most once."""

    def __init__(self, image: ImageFile, log_offset: int, log_length: int, log_guid: bytes) -> None:
        self.image = image
        self.offset = log_offset
        self.length = log_length
        self.log_guid = log_guid
        self._entries: dict[int, LogEntry | None] = {}
        self._budget = max(SCAN_BUDGET_FACTOR * log_length, SCAN_BUDGET_MINIMUM)

    def _sector_at(self, position: int) -> int:
        return self.offset + position % self.length

    def _read(self, position: int, sectors: int) -> bytes:
        """``sectors`` consecutive log sectors from ``position``, wrapping at the end of the log."""
        self._budget -= sectors * LOG_SECTOR_SIZE
        if self._budget < 0:
            raise VhdxLogInvalid(f"{self.image.path.name}: the VHDX log holds so many damaged entries that finding "
                                 f"the valid ones would read it more than {SCAN_BUDGET_FACTOR} times")
        out = bytearray()
        while sectors:
            position %= self.length
            run = min(sectors, (self.length - position) // LOG_SECTOR_SIZE)
            out += self.image.read_exact(self.offset + position, run * LOG_SECTOR_SIZE, "VHDX log")
            position += run * LOG_SECTOR_SIZE
            sectors -= run
        return bytes(out)

    def entry_at(self, position: int) -> LogEntry | None:
        if position not in self._entries:
            self._entries[position] = self._parse(position)
        return self._entries[position]

    def _parse(self, position: int) -> LogEntry | None:
        first = self._read(position, 1)
        header = LOG_ENTRY_HEADER.parse(first)
        total_sectors, partial = divmod(header.entry_length, LOG_SECTOR_SIZE)
        descriptor_sectors = -(-(LOG_ENTRY_HEADER_SIZE + header.descriptor_count * LOG_DESCRIPTOR_SIZE)
                               // LOG_SECTOR_SIZE)
        if (header.signature != LOG_ENTRY_SIGNATURE or partial or total_sectors == 0
                or header.entry_length > self.length or header.sequence_number == 0
                or header.log_guid != self.log_guid or header.tail % LOG_SECTOR_SIZE
                or header.tail >= self.length or descriptor_sectors > total_sectors):
            return None

        # §2.3.1.1: the checksum covers the whole entry with the checksum field zeroed.
        crc = crc32c(first[:LOG_ENTRY_CHECKSUM_OFFSET], 0)
        crc = crc32c(b"\0\0\0\0", crc)
        crc = crc32c(first[LOG_ENTRY_CHECKSUM_OFFSET + 4:], crc)
        descriptor_bytes = bytearray(first)
        data_sectors: list[tuple[int, bytes]] = []
        done = 1
        while done < total_sectors:
            run = min(CRC_CHUNK_SECTORS, total_sectors - done)
            chunk = self._read(position + done * LOG_SECTOR_SIZE, run)
            crc = crc32c(chunk, crc)
            for index in range(run):
                sector = chunk[index * LOG_SECTOR_SIZE:(index + 1) * LOG_SECTOR_SIZE]
                if done + index < descriptor_sectors:
                    descriptor_bytes += sector
                else:
                    data_sectors.append((self._sector_at(position + (done + index) * LOG_SECTOR_SIZE), sector[:8]
                                         + sector[-4:]))
            done += run
        if crc != header.checksum:
            return None

        writes = self._descriptors(header, bytes(descriptor_bytes), data_sectors)
        if writes is None:
            return None
        return LogEntry(position, header.entry_length, header.sequence_number, header.tail,
                        header.flushed_file_offset, header.last_file_offset, writes)

    @staticmethod
    def _descriptors(header: Record, raw: bytes,
                     data_sectors: list[tuple[int, bytes]]) -> tuple[LoggedWrite, ...] | None:
        """The entry's writes in order, or None if a descriptor or data sector is invalid (§2.3.1.2-4)."""
        sequence = header.sequence_number
        writes = []
        next_data = 0
        for index in range(header.descriptor_count):
            at = LOG_ENTRY_HEADER_SIZE + index * LOG_DESCRIPTOR_SIZE
            item = raw[at:at + LOG_DESCRIPTOR_SIZE]
            signature = item[:4]
            if signature == ZERO_DESCRIPTOR_SIGNATURE:
                zero = ZERO_DESCRIPTOR.parse(item)
                if zero.sequence_number != sequence or zero.file_offset % LOG_SECTOR_SIZE or \
                        zero.zero_length % LOG_SECTOR_SIZE:
                    return None
                writes.append(LoggedWrite(zero.file_offset, zero.zero_length))
            elif signature == DATA_DESCRIPTOR_SIGNATURE:
                data = DATA_DESCRIPTOR.parse(item)
                if data.sequence_number != sequence or data.file_offset % LOG_SECTOR_SIZE or \
                        next_data >= len(data_sectors):
                    return None
                sector_at, ends = data_sectors[next_data]
                next_data += 1
                # §2.3.1.4: signature "data", then the sequence number split high/low around the payload.
                if ends[:4] != DATA_SECTOR_SIGNATURE or int.from_bytes(ends[4:8], "little") != sequence >> 32 or \
                        int.from_bytes(ends[8:12], "little") != sequence & 0xFFFFFFFF:
                    return None
                writes.append(LoggedWrite(data.file_offset, LOG_SECTOR_SIZE, sector_at,
                                          data.leading_bytes, data.trailing_bytes))
            else:
                return None
        return tuple(writes)


def _active_sequence(scanner: _LogScanner, name: str) -> list[LogEntry]:
    """The active sequence (§2.3.3): the valid sequence with the highest head sequence number
    whose head's Tail lies inside it, trimmed to start at that tail entry."""
    best: list[LogEntry] = []
    start = 0
    while start < scanner.length:
        sequence: list[LogEntry] = []
        position = start
        used = 0
        while True:
            entry = scanner.entry_at(position)
            if entry is None or (sequence and entry.sequence_number != sequence[-1].sequence_number + 1):
                break
            used += entry.length
            if used > scanner.length:
                break
            sequence.append(entry)
            position = (position + entry.length) % scanner.length
        if not sequence:
            start += LOG_SECTOR_SIZE
            continue
        head = sequence[-1]
        tails = [index for index, entry in enumerate(sequence) if entry.position == head.tail]
        if tails:
            candidate = sequence[tails[0]:]
            if not best or head.sequence_number > best[-1].sequence_number:
                best = candidate
            elif head.sequence_number == best[-1].sequence_number and head.position != best[-1].position:
                raise VhdxLogPending(f"{name}: two VHDX log sequences end at sequence number "
                                     f"{head.sequence_number}; the log cannot be replayed unambiguously")
        if head.position < start:  # the sequence wrapped round the end of the log: everything was seen
            break
        start = head.position + LOG_SECTOR_SIZE
    return best


class LogOverlay:
    """The file as it is after replaying the active sequence, as sorted extents over the file."""

    def __init__(self, image: ImageFile, entries: list[LogEntry], size: int) -> None:
        self.image = image
        self.entries = len(entries)
        self.size = size
        pages: dict[int, LoggedWrite] = {}
        zeros: list[tuple[int, int]] = []
        for entry in entries:
            for write in entry.writes:
                first, end = write.file_offset // LOG_SECTOR_SIZE, (write.file_offset + write.length) // LOG_SECTOR_SIZE
                if write.data_sector_at is not None:
                    pages[first] = write
                elif end > first:
                    zeros.append((first, end))
                    if len(pages) < end - first:
                        for page in [page for page in pages if first <= page < end]:
                            del pages[page]
                    else:
                        for page in range(first, end):
                            pages.pop(page, None)
        self._extents = self._merge(pages, zeros)
        self._starts = [start for start, _, _ in self._extents]

    @staticmethod
    def _merge(pages: dict[int, LoggedWrite],
               zeros: list[tuple[int, int]]) -> list[tuple[int, int, LoggedWrite | None]]:
        """Disjoint (start, end, source) byte extents; a data page written after a zero range wins."""
        merged: list[list[int]] = []
        for first, end in sorted(zeros):
            if merged and first <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([first, end])
        ordered_pages = sorted(pages)
        extents: list[tuple[int, int, LoggedWrite | None]] = [
            (page * LOG_SECTOR_SIZE, (page + 1) * LOG_SECTOR_SIZE, pages[page]) for page in ordered_pages]
        for first, end in merged:
            cursor = first
            index = bisect.bisect_left(ordered_pages, first)
            while index < len(ordered_pages) and ordered_pages[index] < end:
                if ordered_pages[index] > cursor:
                    extents.append((cursor * LOG_SECTOR_SIZE, ordered_pages[index] * LOG_SECTOR_SIZE, None))
                cursor = ordered_pages[index] + 1
                index += 1
            if cursor < end:
                extents.append((cursor * LOG_SECTOR_SIZE, end * LOG_SECTOR_SIZE, None))
        extents.sort(key=lambda extent: extent[0])
        return extents

    def _page(self, write: LoggedWrite) -> bytes:
        # §2.3.1.3: the update is LeadingBytes + data sector bytes 8..4091 + TrailingBytes.
        middle = self.image.read_exact(write.data_sector_at + 8, LOG_SECTOR_SIZE - 12, "VHDX log data sector")
        return write.leading + middle + write.trailing

    def _file(self, offset: int, length: int) -> bytes:
        """Original file bytes; past the physical end (up to LastFileOffset) the file reads as zeros."""
        data = self.image.read_at(offset, length)
        return data + bytes(length - len(data))

    def read(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``offset``; the caller keeps the range inside :attr:`size`."""
        out = bytearray()
        end = offset + length
        index = max(0, bisect.bisect_right(self._starts, offset) - 1)
        while offset < end:
            while index < len(self._extents) and self._extents[index][1] <= offset:
                index += 1
            if index < len(self._extents) and self._extents[index][0] <= offset:
                start, stop, source = self._extents[index]
                stop = min(stop, end)
                if source is None:
                    out += bytes(stop - offset)
                else:
                    out += self._page(source)[offset - start:stop - start]
            else:
                stop = min(end, self._extents[index][0]) if index < len(self._extents) else end
                out += self._file(offset, stop - offset)
            offset = stop
        return bytes(out)


class VhdxFileView:
    """The VHDX file as the reader must see it: the image with any replayed log applied."""

    def __init__(self, image: ImageFile, overlay: LogOverlay | None = None) -> None:
        self.image = image
        self.overlay = overlay
        self.size = overlay.size if overlay is not None else image.size

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        if self.overlay is None:
            return self.image.read_exact(offset, length, what)
        if offset + length > self.size:
            raise Truncated(f"{self.image.path.name}: file ends inside the {what} (offset {offset}, {length} bytes)")
        return self.overlay.read(offset, length)


def replay_log(image: ImageFile, header: Record) -> LogOverlay | None:
    """Replay the log of the current ``header`` in memory; None when there is nothing to replay."""
    name = image.path.name
    log_guid = header.log_guid
    if log_guid == bytes(16):
        return None
    offset, length = header.log_offset, header.log_length
    if header.log_version != LOG_VERSION:
        raise VhdxLogInvalid(f"{name}: VHDX log version {header.log_version} is not {LOG_VERSION}")
    if length == 0 or length % REGION_ALIGNMENT or offset < REGION_ALIGNMENT or offset % REGION_ALIGNMENT:
        raise VhdxLogInvalid(f"{name}: VHDX log at {offset} of {length} bytes is not 1 MiB aligned "
                             "outside the header section")
    if offset + length > image.size:
        raise Truncated(f"{name}: the VHDX log runs past the end of the file")

    entries = _active_sequence(_LogScanner(image, offset, length, log_guid), name)
    if not entries:
        return None
    head = entries[-1]
    # §2.3.1.1 FlushedFileOffset: the file was at least this long when the entry was written.
    if head.flushed_file_offset > image.size:
        raise Truncated(f"{name}: the VHDX log says the file held {head.flushed_file_offset} bytes, "
                        f"it has {image.size}; the file was truncated")
    size = max(image.size, head.last_file_offset)
    forbidden = ((0, HEADERS_END, "the file headers"), (offset, offset + length, "the log itself"))
    for entry in entries:
        for write in entry.writes:
            end = write.file_offset + write.length
            for start, stop, what in forbidden:
                if write.file_offset < stop and end > start and write.length:
                    raise VhdxLogInvalid(f"{name}: VHDX log entry {entry.sequence_number} writes into {what}")
            size = max(size, end)
    return LogOverlay(image, entries, size)
