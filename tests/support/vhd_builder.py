"""Builds small dynamic and differencing VHD files for tests, from the VHD specification.

qemu-img cannot create differencing VHDs, so the chain tests make their own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from vhdfix.disk.vhd_format import (
    DISK_TYPE_DIFFERENCING,
    DISK_TYPE_DYNAMIC,
    DYNAMIC_HEADER_CHECKSUM_OFFSET,
    FOOTER_CHECKSUM_OFFSET,
    SECTOR,
    vhd_checksum,
)

BLOCK_SIZE = 64 * 1024  # small blocks keep test files tiny; the spec allows any power of two


@dataclass
class VhdSpec:
    virtual_size: int
    unique_id: bytes
    sectors: dict[int, bytes] = field(default_factory=dict)  # sector number -> 512 bytes stored in this file
    parent_unique_id: bytes | None = None
    parent_name: str = ""
    locators: list[tuple[bytes, str]] = field(default_factory=list)  # (b"W2ru", ".\\parent.vhd")
    block_size: int = BLOCK_SIZE


def footer_bytes(spec: VhdSpec, disk_type: int, data_offset: int) -> bytes:
    raw = bytearray(512)
    raw[0:8] = b"conectix"
    struct.pack_into(">IIQI4sI4sQQIII", raw, 8, 2, 0x10000, data_offset, 0, b"test", 0x10000, b"Wi2k",
                     spec.virtual_size, spec.virtual_size, 0, disk_type, 0)
    raw[68:84] = spec.unique_id
    struct.pack_into(">I", raw, FOOTER_CHECKSUM_OFFSET, vhd_checksum(bytes(raw), FOOTER_CHECKSUM_OFFSET))
    return bytes(raw)


def write_vhd(path: Path, spec: VhdSpec) -> None:
    """A dynamic VHD, or a differencing one when ``parent_unique_id`` is set."""
    disk_type = DISK_TYPE_DYNAMIC if spec.parent_unique_id is None else DISK_TYPE_DIFFERENCING
    blocks = -(-spec.virtual_size // spec.block_size)
    sectors_per_block = spec.block_size // SECTOR
    bitmap_size = -(-(sectors_per_block // 8) // SECTOR) * SECTOR
    header_at, bat_at = 512, 1536
    bat_size = -(-blocks * 4 // SECTOR) * SECTOR
    cursor = bat_at + bat_size

    locator_data = bytearray()
    locator_entries = []
    for code, stored in spec.locators:
        encoded = stored.encode("utf-16-le")
        space = -(-len(encoded) // SECTOR) * SECTOR
        locator_entries.append((code, space // SECTOR, len(encoded), cursor + len(locator_data)))
        locator_data += encoded.ljust(space, b"\0")
    cursor += len(locator_data)

    bat = [0xFFFFFFFF] * blocks
    body = bytearray()
    by_block: dict[int, dict[int, bytes]] = {}
    for sector, data in spec.sectors.items():
        by_block.setdefault(sector // sectors_per_block, {})[sector % sectors_per_block] = data
    for block in sorted(by_block, reverse=True):  # store blocks out of virtual order on purpose
        bitmap = bytearray(bitmap_size)
        data = bytearray(spec.block_size)
        for within, content in by_block[block].items():
            bitmap[within >> 3] |= 0x80 >> (within & 7)
            data[within * SECTOR:(within + 1) * SECTOR] = content
        bat[block] = (cursor + len(body)) // SECTOR
        body += bitmap + data

    header = bytearray(1024)
    header[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", header, 8, 0xFFFFFFFFFFFFFFFF, bat_at, 0x10000, blocks, spec.block_size)
    if spec.parent_unique_id is not None:
        header[40:56] = spec.parent_unique_id
        header[64:64 + 512] = spec.parent_name.encode("utf-16-be")[:512].ljust(512, b"\0")
        for index, (code, space, length, offset) in enumerate(locator_entries):
            struct.pack_into(">4sIIIQ", header, 576 + 24 * index, code, space, length, 0, offset)
    struct.pack_into(">I", header, DYNAMIC_HEADER_CHECKSUM_OFFSET,
                     vhd_checksum(bytes(header), DYNAMIC_HEADER_CHECKSUM_OFFSET))

    footer = footer_bytes(spec, disk_type, header_at)
    bat_raw = struct.pack(f">{blocks}I", *bat).ljust(bat_size, b"\xff")
    path.write_bytes(footer + header + bat_raw + locator_data + body + footer)
