"""GPT partition tables, with CRC checks and the backup header as fallback.

UEFI Specification 2.10, §5.3: the primary header is at LBA 1, the backup at
the last LBA; each carries a CRC32 of itself and of the partition entry array.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from vhdfix.errors import BadChecksum, CorruptPartitionTable
from vhdfix.layout import Record
from vhdfix.partitions.partition import Partition
from vhdfix.partitions.partition_format import (
    GPT_HEADER,
    GPT_HEADER_MIN_SIZE,
    GPT_PARTITION_ENTRY,
    GPT_SIGNATURE,
    GPT_TYPE_NAMES,
)

MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024
GPT_ENTRY_MIN_SIZE = 128
HEADER_CRC_OFFSET = 16


class GptProblem(Exception):
    """Why one copy of the GPT cannot be used; ``checksum`` tells a CRC failure apart."""

    def __init__(self, reason: str, checksum: bool = False) -> None:
        super().__init__(reason)
        self.checksum = checksum


@dataclass
class GptCopy:
    header: Record  # GPT_HEADER
    entries: bytes


def guid_str(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw))


def has_gpt_signature(sector: bytes) -> bool:
    return sector[:8] == GPT_SIGNATURE


def _read_copy(read: Callable[[int, int], bytes], lba: int, sector_size: int, disk_sectors: int) -> GptCopy:
    raw = read(lba * sector_size, sector_size)
    if len(raw) < sector_size or raw[:8] != GPT_SIGNATURE:
        raise GptProblem(f"no 'EFI PART' signature at LBA {lba}")
    header = GPT_HEADER.parse(raw)
    if not GPT_HEADER_MIN_SIZE <= header.header_size <= sector_size:
        raise GptProblem(f"header size {header.header_size} is invalid")
    body = bytearray(raw[:header.header_size])
    body[HEADER_CRC_OFFSET:HEADER_CRC_OFFSET + 4] = b"\0\0\0\0"
    if zlib.crc32(body) != header.header_crc32:
        raise GptProblem("header CRC32 mismatch", checksum=True)
    if header.my_lba != lba:
        raise GptProblem(f"header at LBA {lba} says it is at LBA {header.my_lba}")
    entry_size, count = header.size_of_partition_entry, header.number_of_partition_entries
    if entry_size < GPT_ENTRY_MIN_SIZE or entry_size % GPT_ENTRY_MIN_SIZE or count * entry_size > MAX_ENTRY_ARRAY_BYTES:
        raise GptProblem(f"partition entry array of {count} x {entry_size} bytes is invalid")
    array_sectors = -(-count * entry_size // sector_size)
    if header.partition_entry_lba + array_sectors > disk_sectors:
        raise GptProblem("partition entry array lies past the end of the disk")
    if not header.first_usable_lba <= header.last_usable_lba < disk_sectors:
        raise GptProblem("usable LBA range is invalid")
    entries = read(header.partition_entry_lba * sector_size, count * entry_size)
    if len(entries) != count * entry_size:
        raise GptProblem("partition entry array is truncated")
    if zlib.crc32(entries) != header.partition_entry_array_crc32:
        raise GptProblem("partition entry array CRC32 mismatch", checksum=True)
    return GptCopy(header, entries)


def read_gpt(read: Callable[[int, int], bytes], sector_size: int, disk_size: int,
             warnings: list[str]) -> tuple[list[Partition], str]:
    """Partitions (by table index) and the disk GUID, from the primary or else the backup GPT."""
    disk_sectors = disk_size // sector_size
    if disk_sectors < 3:
        raise CorruptPartitionTable(f"a disk of {disk_size} bytes is too small for a GPT")
    try:
        gpt = _read_copy(read, 1, sector_size, disk_sectors)
    except GptProblem as primary:
        try:
            gpt = _read_copy(read, disk_sectors - 1, sector_size, disk_sectors)
        except GptProblem as backup:
            message = f"GPT unusable: primary: {primary}; backup: {backup}"
            if primary.checksum or backup.checksum:
                raise BadChecksum(message) from None
            raise CorruptPartitionTable(message) from None
        warnings.append(f"primary GPT is damaged ({primary}); using the backup GPT")
    return _partitions(gpt, sector_size, warnings), guid_str(gpt.header.disk_guid)


def _partitions(gpt: GptCopy, sector_size: int, warnings: list[str]) -> list[Partition]:
    header = gpt.header
    partitions: list[Partition] = []
    size = header.size_of_partition_entry
    for index in range(header.number_of_partition_entries):
        entry = GPT_PARTITION_ENTRY.parse(gpt.entries, index * size)
        if entry.partition_type_guid == bytes(16):
            continue
        first, last = entry.starting_lba, entry.ending_lba
        if not header.first_usable_lba <= first <= last <= header.last_usable_lba:
            warnings.append(f"GPT partition {index + 1} lies outside the usable area; ignored")
            continue
        type_guid = guid_str(entry.partition_type_guid)
        partitions.append(Partition(
            number=index + 1,
            scheme="gpt",
            offset=first * sector_size,
            size=(last - first + 1) * sector_size,  # ending_lba is inclusive (dissect.volume gets this wrong)
            type=type_guid,
            type_name=GPT_TYPE_NAMES.get(type_guid, "unknown"),
            name=entry.partition_name.decode("utf-16-le", "replace").split("\0", 1)[0],
            guid=guid_str(entry.unique_partition_guid),
        ))
    return partitions
