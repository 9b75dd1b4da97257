"""Old-format transaction logs (Vista to Windows 8): the DIRT dirty vector and its dirty pages.

regf spec, 'Format of transaction log files' / 'Old format', and 'Multiple
transaction log files' / 'Old format'.
"""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.errors import HiveLogInvalid
from vhdfix.registry.base_block import BaseBlock
from vhdfix.registry.hive_bins import first_bad_hive_bin
from vhdfix.registry.log_file import TransactionLog
from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    DIRTY_VECTOR,
    DIRTY_VECTOR_SIGNATURE,
    HBIN_SIGNATURE,
    HIVE_BIN_HEADER,
    HIVE_BIN_HEADER_SIZE,
    SECTOR_SIZE,
)

_BITMAP_START = SECTOR_SIZE + len(DIRTY_VECTOR)


@dataclass(frozen=True)
class DirtyVector:
    """Which 512-byte pages of the hive bins data a log holds, and where they start in the log."""

    positions: tuple[int, ...]  # bit positions, ascending: page i is at 4096 + 512 * positions[i]
    pages_start: int

    def page(self, log: TransactionLog, index: int) -> bytes:
        start = self.pages_start + index * SECTOR_SIZE
        return log.data[start:start + SECTOR_SIZE]


def read_dirty_vector(log: TransactionLog) -> DirtyVector:
    """Parse the dirty vector; raise :class:`HiveLogInvalid` (message: the reason) if it is unusable.

    regf spec, 'Dirty vector': one bit per 512-byte page of the hive bins data,
    least significant bit first. 'Dirty pages': they start at the sector after
    the bitmap, i.e. align512(512 + 4 + hive bins data size / 4096), which is
    1024 only for hives up to 508 * 4096 bytes; one page per set bit, no gaps.
    """
    data = log.data
    if data[SECTOR_SIZE:_BITMAP_START] != DIRTY_VECTOR_SIGNATURE:
        raise HiveLogInvalid(f"no dirty vector (DIRT) signature at offset {SECTOR_SIZE}")
    bitmap_end = _BITMAP_START + log.base_block.hive_bins_data_size // SECTOR_SIZE // 8
    if bitmap_end > len(data):
        raise HiveLogInvalid("the dirty vector runs past the end of the log")
    positions = tuple(
        index * 8 + bit
        for index, byte in enumerate(data[_BITMAP_START:bitmap_end]) if byte
        for bit in range(8) if byte >> bit & 1
    )
    pages_start = -(-bitmap_end // SECTOR_SIZE) * SECTOR_SIZE
    if pages_start + len(positions) * SECTOR_SIZE > len(data):
        raise HiveLogInvalid(f"{len(positions)} dirty pages are listed but the log ends early")
    return DirtyVector(positions=positions, pages_start=pages_start)


def applicability_problem(primary: bytes, primary_base: BaseBlock, log: TransactionLog) -> str | None:
    """Why ``log`` cannot be applied to ``primary``, or None.

    regf spec, 'Old format' / 'Base block', note 3: the log's last written
    timestamp must equal the primary's. When the primary base block is
    invalid, the first hive bin's timestamp stands in; it is a backup copy that
    may lag behind, so (as yarp, the reference implementation, does) a log that
    is not older than it is accepted.
    """
    log_timestamp = log.base_block.last_written_timestamp
    if primary_base.valid:
        if log_timestamp != primary_base.last_written_timestamp:
            return "its last written timestamp differs from the primary's"
        return None
    first_bin = primary[BASE_BLOCK_SIZE:BASE_BLOCK_SIZE + HIVE_BIN_HEADER_SIZE]
    header = HIVE_BIN_HEADER.parse(first_bin) if len(first_bin) == HIVE_BIN_HEADER_SIZE else None
    if header is None or header.signature != HBIN_SIGNATURE:
        return "the primary has neither a valid base block nor a first hive bin to compare timestamps with"
    if log_timestamp < header.timestamp:
        return "it is older than the primary's first hive bin"
    return None


def replay_dirty_pages(image: bytearray, log: TransactionLog, vector: DirtyVector) -> tuple[int, str | None]:
    """Write the log's dirty pages into ``image``; return (pages written, warning or None).

    regf spec, 'Dirty pages', note 2: page i goes to 4096 + 512 * positions[i].
    The chain of hive bins is then verified (signature, Offset = position,
    Size); recovery stops at the first invalid bin, past which the chain cannot
    be followed: its pages and all later pages are not written. The caller has
    grown ``image`` to 4096 + the log's hive bins data size.
    """
    original = bytes(image)
    for index, position in enumerate(vector.positions):
        start = BASE_BLOCK_SIZE + position * SECTOR_SIZE
        image[start:start + SECTOR_SIZE] = vector.page(log, index)
    bad = first_bad_hive_bin(image, log.base_block.hive_bins_data_size)
    if bad is None:
        return len(vector.positions), None
    stop, reason = bad
    kept = 0
    for position in vector.positions:
        start = BASE_BLOCK_SIZE + position * SECTOR_SIZE
        if position * SECTOR_SIZE < stop:
            kept += 1
        else:
            image[start:start + SECTOR_SIZE] = original[start:start + SECTOR_SIZE]
    return kept, f"{log.name}: hive bin at {stop:#x} is invalid after replay ({reason}); recovery stops there"
