"""VHDX output, dynamic or fixed, from [MS-VHDX] with the reader's structures (``vhdfix.disk.vhdx_format``).

Layout (§2.1; every region 1 MiB aligned):

=============  ================================================================
0              file type identifier (§2.2.1)
64 KiB/128 KiB headers 1 and 2 (§2.2.2), LogGuid zero: there is nothing to replay
192/256 KiB    region tables 1 and 2 (§2.2.3): the BAT and metadata regions
1 MiB          the log, 1 MiB, empty (never written: a hole)
2 MiB          the metadata region, 1 MiB (§2.6)
3 MiB          the BAT (§2.5)
after the BAT  payload blocks in virtual order
=============  ================================================================

A dynamic file stores only blocks that hold a non-zero byte; the others are
PAYLOAD_BLOCK_ZERO, whose contents are defined as zeros (§2.5.1.1), as
qemu's writer does by default. A fixed file (LeaveBlockAllocated, §2.6.2.1)
has every block FULLY_PRESENT; its zero pages are holes in the host file.
"""

from __future__ import annotations

import struct
import sys
import uuid
from array import array

from vhdfix.copy.output import OutputFile
from vhdfix.copy.writer import ImageWriter, split_at_blocks
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.disk.vhdx_format import (
    BAT_OFFSET_SHIFT,
    BAT_REGION_GUID,
    BAT_STATE_MASK,
    CHUNK_SECTORS,
    FILE_IDENTIFIER,
    FILE_IDENTIFIER_SIGNATURE,
    FILE_PARAMETERS,
    FILE_PARAMETERS_GUID,
    HEADER,
    HEADER_CHECKSUM_OFFSET,
    HEADER_OFFSETS,
    HEADER_SIGNATURE,
    LEAVE_BLOCK_ALLOCATED,
    LOG_VERSION,
    LOGICAL_SECTOR_SIZE_GUID,
    METADATA_IS_REQUIRED,
    METADATA_REGION_GUID,
    METADATA_TABLE_ENTRY,
    METADATA_TABLE_HEADER,
    METADATA_TABLE_SIGNATURE,
    METADATA_TABLE_SIZE,
    PAYLOAD_BLOCK_FULLY_PRESENT,
    PAYLOAD_BLOCK_ZERO,
    PHYSICAL_SECTOR_SIZE_GUID,
    REGION_REQUIRED,
    REGION_TABLE_CHECKSUM_OFFSET,
    REGION_TABLE_ENTRY,
    REGION_TABLE_HEADER,
    REGION_TABLE_OFFSETS,
    REGION_TABLE_SIGNATURE,
    REGION_TABLE_SIZE,
    SB_BLOCK_NOT_PRESENT,
    VIRTUAL_DISK_ID_GUID,
    VIRTUAL_DISK_SIZE_GUID,
    MiB,
)
from vhdfix.version import __version__

HEADER_VERSION = 1  # §2.2.2: Version MUST be 1
LOG_OFFSET = 1 * MiB
LOG_LENGTH = 1 * MiB  # §2.2.2: a multiple of 1 MiB
METADATA_OFFSET = 2 * MiB
METADATA_LENGTH = 1 * MiB
BAT_OFFSET = 3 * MiB
DEFAULT_BLOCK_SIZE = 32 * MiB  # Hyper-V's and qemu's default for dynamic files
METADATA_IS_VIRTUAL_DISK = 0x2  # §2.6.1.2 IsVirtualDisk


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _with_crc(raw: bytearray, checksum_offset: int) -> bytes:
    struct.pack_into("<I", raw, checksum_offset, checksum_with_field_zeroed(bytes(raw), checksum_offset))
    return bytes(raw)


def file_identifier() -> bytes:
    creator = f"vhdfix {__version__}".encode("utf-16-le")
    return FILE_IDENTIFIER.pack(signature=FILE_IDENTIFIER_SIGNATURE, creator=creator)


def header(sequence_number: int, file_write_guid: uuid.UUID, data_write_guid: uuid.UUID) -> bytes:
    """A header with no log to replay (LogGuid zero, §2.2.2)."""
    raw = HEADER.pack(signature=HEADER_SIGNATURE, sequence_number=sequence_number,
                      file_write_guid=file_write_guid.bytes_le, data_write_guid=data_write_guid.bytes_le,
                      log_guid=bytes(16), log_version=LOG_VERSION, version=HEADER_VERSION,
                      log_length=LOG_LENGTH, log_offset=LOG_OFFSET)
    return _with_crc(bytearray(raw), HEADER_CHECKSUM_OFFSET)


def region_table(bat_length: int) -> bytes:
    raw = bytearray(REGION_TABLE_SIZE)
    table = REGION_TABLE_HEADER.pack(signature=REGION_TABLE_SIGNATURE, entry_count=2)
    raw[:len(table)] = table
    at = len(table)
    for guid, offset, length in ((BAT_REGION_GUID, BAT_OFFSET, bat_length),
                                 (METADATA_REGION_GUID, METADATA_OFFSET, METADATA_LENGTH)):
        entry = REGION_TABLE_ENTRY.pack(guid=guid.bytes_le, file_offset=offset, length=length, flags=REGION_REQUIRED)
        raw[at:at + len(entry)] = entry
        at += len(entry)
    return _with_crc(raw, REGION_TABLE_CHECKSUM_OFFSET)


def metadata_region(block_size: int, fixed: bool, virtual_size: int, logical: int, physical: int,
                    disk_id: uuid.UUID) -> bytes:
    """The metadata table and the five system items a disk without a parent needs (§2.6.2)."""
    required = METADATA_IS_REQUIRED
    disk_item = METADATA_IS_REQUIRED | METADATA_IS_VIRTUAL_DISK
    items = [
        (FILE_PARAMETERS_GUID, FILE_PARAMETERS.pack(block_size=block_size, flags=LEAVE_BLOCK_ALLOCATED if fixed else 0),
         required),
        (VIRTUAL_DISK_SIZE_GUID, struct.pack("<Q", virtual_size), disk_item),
        (VIRTUAL_DISK_ID_GUID, disk_id.bytes_le, disk_item),
        (LOGICAL_SECTOR_SIZE_GUID, struct.pack("<I", logical), disk_item),
        (PHYSICAL_SECTOR_SIZE_GUID, struct.pack("<I", physical), disk_item),
    ]
    raw = bytearray(METADATA_TABLE_SIZE + sum(len(value) for _, value, _ in items))
    table = METADATA_TABLE_HEADER.pack(signature=METADATA_TABLE_SIGNATURE, entry_count=len(items))
    raw[:len(table)] = table
    at, cursor = len(table), METADATA_TABLE_SIZE  # §2.6.1.2: items lie at least 64 KiB into the region
    for guid, value, flags in items:
        entry = METADATA_TABLE_ENTRY.pack(item_id=guid.bytes_le, offset=cursor, length=len(value), flags=flags)
        raw[at:at + len(entry)] = entry
        raw[cursor:cursor + len(value)] = value
        at += len(entry)
        cursor += len(value)
    return bytes(raw)


class VhdxWriter(ImageWriter):
    def __init__(self, out: OutputFile, virtual_size: int, logical_sector_size: int = 512,
                 physical_sector_size: int = 4096, block_size: int = DEFAULT_BLOCK_SIZE, fixed: bool = False) -> None:
        super().__init__(out, _round_up(virtual_size, logical_sector_size))
        self.logical_sector_size = logical_sector_size
        self.physical_sector_size = physical_sector_size
        self.block_size = block_size
        self.fixed = fixed
        # §2.5: chunk ratio, and for a disk without a parent the entry count that ends with the last payload block.
        self.chunk_ratio = CHUNK_SECTORS * logical_sector_size // block_size
        self.data_blocks = -(-self.virtual_size // block_size)
        entries = self.data_blocks + (self.data_blocks - 1) // self.chunk_ratio if self.data_blocks else 0
        self.bat_length = max(MiB, _round_up(entries * 8, MiB))
        self.bat = array("Q", [PAYLOAD_BLOCK_ZERO]) * entries
        for index in range(self.chunk_ratio, entries, self.chunk_ratio + 1):
            self.bat[index] = SB_BLOCK_NOT_PRESENT  # §2.5: no sector bitmap blocks without a parent
        self.next_block = BAT_OFFSET + self.bat_length
        if fixed:
            for block in range(self.data_blocks):
                self._allocate(block)

    def _index(self, block: int) -> int:
        return block + block // self.chunk_ratio

    def _allocate(self, block: int) -> int:
        self.bat[self._index(block)] = PAYLOAD_BLOCK_FULLY_PRESENT | (self.next_block // MiB) << BAT_OFFSET_SHIFT
        self.next_block += self.block_size
        return self.next_block - self.block_size

    def write(self, offset: int, data: bytes, stored_at: int | None = None) -> None:
        for block, within, piece in split_at_blocks(offset, data, self.block_size):
            entry = self.bat[self._index(block)]
            if entry & BAT_STATE_MASK == PAYLOAD_BLOCK_FULLY_PRESENT:
                at = (entry >> BAT_OFFSET_SHIFT) * MiB
            else:
                at = self._allocate(block)
            self.out.write_at(at + within, piece)

    def finish(self) -> None:
        self.out.truncate(self.next_block)
        self.out.write_at(0, file_identifier())
        file_write_guid, data_write_guid = uuid.uuid4(), uuid.uuid4()
        for sequence, offset in enumerate(HEADER_OFFSETS, 1):
            self.out.write_at(offset, header(sequence, file_write_guid, data_write_guid))
        table = region_table(self.bat_length)
        for offset in REGION_TABLE_OFFSETS:
            self.out.write_at(offset, table)
        self.out.write_at(METADATA_OFFSET, metadata_region(self.block_size, self.fixed, self.virtual_size,
                                                           self.logical_sector_size, self.physical_sector_size,
                                                           uuid.uuid4()))
        bat = array("Q", self.bat)
        if sys.byteorder == "big":
            bat.byteswap()  # BAT entries are little-endian
        self.out.write_at(BAT_OFFSET, bat.tobytes())
