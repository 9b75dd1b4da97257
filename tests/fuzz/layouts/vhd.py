"""VHD structures of a seed file: footers, dynamic header, parent locators, BAT and sector bitmaps."""

from __future__ import annotations

import struct

from tests.fuzz.model import Field, Unit, int_fields
from vhdfix.disk.vhd_format import (
    BAT_UNUSED,
    DYNAMIC_HEADER_CHECKSUM_OFFSET,
    FOOTER_CHECKSUM_OFFSET,
    SECTOR,
    vhd_checksum,
)

FOOTER_FIELDS = ((8, 4, "features"), (12, 4, "file_format_version"), (16, 8, "data_offset"), (28, 4, "creator"),
                 (40, 8, "original_size"), (48, 8, "current_size"), (56, 4, "disk_geometry"), (60, 4, "disk_type"),
                 (64, 4, "checksum"), (68, 8, "unique_id"), (84, 1, "saved_state"))
HEADER_FIELDS = ((8, 8, "data_offset"), (16, 8, "table_offset"), (24, 4, "header_version"),
                 (28, 4, "max_table_entries"), (32, 4, "block_size"), (36, 4, "checksum"),
                 (40, 8, "parent_unique_id"), (56, 4, "parent_time_stamp"))
LOCATOR_FIELDS = ((0, 4, "platform_code"), (4, 4, "platform_data_space"), (8, 4, "platform_data_length"),
                  (16, 8, "platform_data_offset"))
MAX_BAT_FIELDS = 512
MAX_BITMAP_UNITS = 8


def _sealer(offset: int):
    def seal(data: bytearray) -> None:
        struct.pack_into(">I", data, offset, vhd_checksum(bytes(data), offset))
    return seal


def vhd_units(file: str, data: bytes) -> list[Unit]:
    """Units of one VHD file (fixed, dynamic or differencing)."""
    size = len(data)
    footer_at = size - 512
    footer = data[footer_at:]
    units = [Unit("vhd.footer", file, ((0, footer_at, 512),),
                  tuple(int_fields("", 0, FOOTER_FIELDS, big_endian=True,
                                   hints={"data_offset": (0, 512, footer_at, 0xFFFFFFFFFFFFFFFF),
                                          "disk_type": (2, 3, 4, 5),
                                          "current_size": (size, size * 2, 1 << 40)})),
                  _sealer(FOOTER_CHECKSUM_OFFSET), weight=2)]
    if data[:8] == b"conectix":
        units.append(Unit("vhd.footer_copy", file, ((0, 0, 512),), units[0].fields, _sealer(FOOTER_CHECKSUM_OFFSET)))
    disk_type = struct.unpack_from(">I", footer, 60)[0]
    if disk_type not in (3, 4):
        return units
    header_at = struct.unpack_from(">Q", footer, 16)[0]
    header = data[header_at:header_at + 1024]
    bat_at, entries, block_size = struct.unpack_from(">QII", header, 16)
    own_sector = header_at // SECTOR
    offsets = (0, header_at, bat_at, footer_at, size)
    fields = int_fields("", 0, HEADER_FIELDS, big_endian=True,
                        hints={"table_offset": offsets, "block_size": (512, 4096, 1 << 21, 1 << 28, 1 << 31)})
    for index in range(8):
        fields += int_fields(f"locator{index}.", 576 + 24 * index, LOCATOR_FIELDS, big_endian=True,
                             hints={"platform_data_offset": offsets, "platform_code": (0x57327275, 0x57326B75)})
    own_name = ("." + "\\" + file).encode("utf-16-le")
    replacements = ((64, file.encode("utf-16-be") + b"\0\0"),)
    units.append(Unit("vhd.dynamic_header", file, ((0, header_at, 1024),), tuple(fields),
                      _sealer(DYNAMIC_HEADER_CHECKSUM_OFFSET), replacements=replacements, weight=3))

    bat = struct.unpack_from(f">{entries}I", data, bat_at) if bat_at + 4 * entries <= size else ()
    used = [entry for entry in bat if entry != BAT_UNUSED]
    hints = (BAT_UNUSED, own_sector, bat_at // SECTOR, footer_at // SECTOR, 0, *used[:8])
    bat_fields = tuple(Field(4 * index, 4, f"bat[{index}]", True, hints)
                       for index in range(min(entries, MAX_BAT_FIELDS)))
    units.append(Unit("vhd.bat", file, ((0, bat_at, 4 * min(entries, MAX_BAT_FIELDS)),), bat_fields, weight=3))

    for index in range(8):
        code, _, length, _, offset = struct.unpack_from(">4sIIIQ", header, 576 + 24 * index)
        if code in (b"W2ru", b"W2ku") and 0 < length <= 4096 and offset + length <= size:
            units.append(Unit(f"vhd.locator{index}.path", file, ((0, offset, length),),
                              replacements=((0, own_name[:length]),), weight=2))
    if disk_type == 4:
        bitmap = -(-(block_size // SECTOR) // 8 // SECTOR) * SECTOR
        for block, entry in [(b, e) for b, e in enumerate(bat) if e != BAT_UNUSED][:MAX_BITMAP_UNITS]:
            units.append(Unit(f"vhd.bitmap[{block}]", file, ((0, entry * SECTOR, bitmap),), weight=0.5))
    return units
