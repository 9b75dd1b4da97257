"""Read events out of a Windows XML Event Log (EVTX) file, bounded, through dissect.eventlog.

vhdfix checks the framing itself (libyal/libevtx "Windows XML Event Log (EVTX) format" §2-§3): the file
signature, then each 64 KiB chunk's signature, header CRC-32 and event-records CRC-32, as the event log
service does before it trusts a chunk. dissect.eventlog then parses the binary XML of the chunks that pass.
Whatever it raises ends that chunk with a warning, never the inspection. Bounds: the caller reads at most
:data:`MAX_EVTX_BYTES` of the file; at most :data:`MAX_RECORDS` records and :data:`MAX_CPU_SECONDS` of
parsing per file, and the per-disk time budget (dissect swallows exceptions chunk by chunk, so the budget is
checked again after each chunk).
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from vhdfix.budget import check_time_budget
from vhdfix.errors import CorruptVolume, foreign_errors

MAX_EVTX_BYTES = 8 * 1024 * 1024  # Setup.evtx is 1 MiB by default (its channel's MaxSize)
MAX_RECORDS = 50_000
MAX_CPU_SECONDS = 2.0
FILE_SIGNATURE = b"ElfFile\0"
CHUNK_SIGNATURE = b"ElfChnk\0"
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
FILE_HEADER_BLOCK = 4096


@dataclass
class EventScan:
    """Records read from one file (each a flat field → value map, as dissect.eventlog gives them)."""

    records: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _chunk_problem(chunk: bytes) -> str | None:
    if chunk[:8] != CHUNK_SIGNATURE:
        return None if chunk[:8] == bytes(8) else "no chunk signature"
    free_space = struct.unpack_from("<I", chunk, 48)[0]
    if not CHUNK_HEADER_SIZE <= free_space <= CHUNK_SIZE:
        return f"free-space offset {free_space} outside the chunk"
    header_crc, records_crc = struct.unpack_from("<I", chunk, 124)[0], struct.unpack_from("<I", chunk, 52)[0]
    if zlib.crc32(chunk[:120] + chunk[128:CHUNK_HEADER_SIZE]) != header_crc:
        return "chunk header checksum mismatch"
    if zlib.crc32(chunk[CHUNK_HEADER_SIZE:free_space]) != records_crc:
        return "event records checksum mismatch"
    return ""


def _chunks(data: bytes, path: str, scan: EventScan) -> Iterator[tuple[int, bytes]]:
    for offset in range(FILE_HEADER_BLOCK, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
        chunk = data[offset:offset + CHUNK_SIZE]
        problem = _chunk_problem(chunk)
        if problem is None:
            continue  # a chunk never written
        if problem:
            scan.warnings.append(f"{path}: chunk at {offset:#x} skipped: {problem}")
            continue
        yield offset, chunk


def read_events(data: bytes, path: str) -> EventScan:
    """Every record of the well-formed chunks of ``data`` (an EVTX file's first bytes), in file order."""
    scan = EventScan()
    if data[:8] != FILE_SIGNATURE:
        scan.warnings.append(f"{path}: not an EVTX file (no ElfFile signature)")
        return scan
    # imported here, not at the top: dissect.eventlog compiles its cstruct definitions at import (~0.1 s), a cost
    # only a disk with an event log to read should pay
    from dissect.eventlog.bxml import BxmlSub
    from dissect.eventlog.evtx import ElfChnk

    started = time.process_time()
    for offset, chunk in _chunks(data, path, scan):
        try:
            with foreign_errors(CorruptVolume, f"{path}: chunk at {offset:#x}"):
                for record in ElfChnk(chunk).read():
                    scan.records.append({key: value.get() if isinstance(value, BxmlSub) else value
                                         for key, value in record.items()})
                    if len(scan.records) >= MAX_RECORDS or time.process_time() - started > MAX_CPU_SECONDS:
                        scan.warnings.append(f"{path}: stopped after {len(scan.records)} records "
                                             f"(limits: {MAX_RECORDS} records, {MAX_CPU_SECONDS:g} s)")
                        return scan
        except CorruptVolume as exc:
            scan.warnings.append(exc.message)
        check_time_budget()
    return scan
