"""VHD output: the footer (fixed and dynamic) and the dynamic writer.

Microsoft "Virtual Hard Disk Image Format Specification" (October 2006):
"Hard Disk Footer Format", "Dynamic Disk Header Format", "Block Allocation
Table and Data Blocks" and Appendix "CHS Calculation". The structures are the
reader's (``vhdfix.disk.vhd_format``).
"""

from __future__ import annotations

import struct
import sys
import time
import uuid
from array import array

from vhdfix.copy.output import OutputFile
from vhdfix.copy.writer import ImageWriter, split_at_blocks
from vhdfix.disk.vhd_format import (
    BAT_UNUSED,
    DISK_TYPE_DYNAMIC,
    DISK_TYPE_FIXED,
    DYNAMIC_COOKIE,
    DYNAMIC_DISK_HEADER,
    DYNAMIC_HEADER_CHECKSUM_OFFSET,
    DYNAMIC_HEADER_SIZE,
    FIXED_DATA_OFFSET,
    FOOTER_CHECKSUM_OFFSET,
    FOOTER_COOKIE,
    FOOTER_SIZE,
    HARD_DISK_FOOTER,
    SECTOR,
    vhd_checksum,
)

MiB = 1 << 20
FEATURES_RESERVED = 0x00000002  # "Reserved. This bit must always be set to 1."
FILE_FORMAT_VERSION = 0x00010000
HEADER_VERSION = 0x00010000
VHD_EPOCH = 946728000  # the spec's time stamps count seconds from 2000-01-01 12:00:00 UTC
# qemu (block/vpc.c, vpc_open) takes the disk size from current_size only for known creators and from the
# CHS geometry otherwise, which is smaller for most sizes; "win " (Windows, Hyper-V) is one it trusts.
# Azure and Hyper-V read current_size whatever the creator.
CREATOR_APPLICATION = b"win "
CREATOR_VERSION = 0x000A0000
CREATOR_HOST_OS = b"Wi2k"
DYNAMIC_BLOCK_SIZE = 2 * MiB  # the spec's default block size
DYNAMIC_HEADER_OFFSET = FOOTER_SIZE
BAT_OFFSET = DYNAMIC_HEADER_OFFSET + DYNAMIC_HEADER_SIZE
MAX_CHS_SECTORS = 65535 * 16 * 255


def round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def chs_geometry(size: int) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) for ``size`` bytes, by the spec's CHS Calculation."""
    total = min(size // SECTOR, MAX_CHS_SECTORS)
    if total >= 65535 * 16 * 63:
        sectors, heads = 255, 16
        cylinders_times_heads = total // sectors
    else:
        sectors = 17
        cylinders_times_heads = total // sectors
        heads = max((cylinders_times_heads + 1023) // 1024, 4)
        if cylinders_times_heads >= heads * 1024 or heads > 16:
            sectors, heads = 31, 16
            cylinders_times_heads = total // sectors
        if cylinders_times_heads >= heads * 1024:
            sectors, heads = 63, 16
            cylinders_times_heads = total // sectors
    return cylinders_times_heads // heads, heads, sectors


def footer(disk_type: int, size: int, data_offset: int, unique_id: bytes) -> bytes:
    """A hard disk footer with its checksum; ``size`` is both the original and the current size."""
    cylinders, heads, sectors = chs_geometry(size)
    raw = bytearray(HARD_DISK_FOOTER.pack(
        cookie=FOOTER_COOKIE, features=FEATURES_RESERVED, file_format_version=FILE_FORMAT_VERSION,
        data_offset=data_offset, time_stamp=max(0, int(time.time()) - VHD_EPOCH) & 0xFFFFFFFF,
        creator_application=CREATOR_APPLICATION, creator_version=CREATOR_VERSION, creator_host_os=CREATOR_HOST_OS,
        original_size=size, current_size=size, disk_geometry=cylinders << 16 | heads << 8 | sectors,
        disk_type=disk_type, unique_id=unique_id))
    struct.pack_into(">I", raw, FOOTER_CHECKSUM_OFFSET, vhd_checksum(bytes(raw), FOOTER_CHECKSUM_OFFSET))
    return bytes(raw)


def fixed_size(virtual_size: int) -> int:
    """Azure accepts fixed VHDs whose size is a whole number of MiB: round up."""
    return round_up(virtual_size, MiB)


def fixed_footer(size: int) -> bytes:
    return footer(DISK_TYPE_FIXED, size, FIXED_DATA_OFFSET, uuid.uuid4().bytes)


class DynamicVhdWriter(ImageWriter):
    """Footer copy, dynamic header and BAT at the start; a block (sector bitmap, then data) for each
    block that holds a non-zero byte, appended in virtual order; the footer at the end.

    Blocks follow each other without gaps, as qemu and Hyper-V lay them out: for dense data this is the
    smallest file (a block's sector bitmap shares a host page with its neighbours' data).
    """

    def __init__(self, out: OutputFile, virtual_size: int, block_size: int = DYNAMIC_BLOCK_SIZE) -> None:
        super().__init__(out, round_up(virtual_size, SECTOR))
        self.block_size = block_size
        self.blocks = -(-self.virtual_size // block_size)
        self.bat = array("I", [BAT_UNUSED]) * self.blocks
        # One bit per sector, MSB first, padded to a sector; all set: every sector of the block holds data.
        self.bitmap_size = round_up(block_size // SECTOR // 8, SECTOR)
        self.bat_size = round_up(self.blocks * 4, SECTOR)
        self.end = BAT_OFFSET + self.bat_size  # where the next block may start

    def write(self, offset: int, data: bytes, stored_at: int | None = None) -> None:
        for block, within, piece in split_at_blocks(offset, data, self.block_size):
            if self.bat[block] == BAT_UNUSED:
                self.bat[block] = self.end // SECTOR
                self.out.write_at(self.end, b"\xff" * self.bitmap_size)
                self.end += self.bitmap_size + self.block_size
            self.out.write_at(self.bat[block] * SECTOR + self.bitmap_size + within, piece)

    def finish(self) -> None:
        tail = footer(DISK_TYPE_DYNAMIC, self.virtual_size, DYNAMIC_HEADER_OFFSET, uuid.uuid4().bytes)
        header = bytearray(DYNAMIC_DISK_HEADER.pack(
            cookie=DYNAMIC_COOKIE, data_offset=FIXED_DATA_OFFSET, table_offset=BAT_OFFSET,
            header_version=HEADER_VERSION, max_table_entries=self.blocks, block_size=self.block_size))
        struct.pack_into(">I", header, DYNAMIC_HEADER_CHECKSUM_OFFSET,
                         vhd_checksum(bytes(header), DYNAMIC_HEADER_CHECKSUM_OFFSET))
        table = array("I", self.bat)
        if sys.byteorder == "little":
            table.byteswap()  # BAT entries are big-endian
        self.out.write_at(0, tail)  # the copy of the footer at offset 0
        self.out.write_at(DYNAMIC_HEADER_OFFSET, bytes(header))
        self.out.write_at(BAT_OFFSET, table.tobytes().ljust(self.bat_size, b"\xff"))
        self.out.write_at(self.end, tail)
        self.out.truncate(self.end + FOOTER_SIZE)
