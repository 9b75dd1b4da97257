"""Partition tables of a seed disk: the MBR, the EBR chain, and both GPT copies (CRC32s resealed)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from tests.fuzz.model import Field, Unit, int_fields

RECORD_FIELDS = ((0, 1, "boot_indicator"), (4, 1, "os_type"), (8, 4, "starting_lba"), (12, 4, "size_in_lba"))
GPT_HEADER_FIELDS = ((8, 4, "revision"), (12, 4, "header_size"), (16, 4, "header_crc32"), (24, 8, "my_lba"),
                     (32, 8, "alternate_lba"), (40, 8, "first_usable_lba"), (48, 8, "last_usable_lba"),
                     (72, 8, "partition_entry_lba"), (80, 4, "number_of_partition_entries"),
                     (84, 4, "size_of_partition_entry"), (88, 4, "partition_entry_array_crc32"))
GPT_ENTRY_FIELDS = ((0, 8, "type_guid"), (32, 8, "starting_lba"), (40, 8, "ending_lba"), (48, 8, "attributes"))
EXTENDED = (0x05, 0x0F, 0x85)
MAX_EBRS = 16
MAX_GPT_ENTRIES = 8


def _records(prefix: str, count: int, hints: dict[str, tuple[int, ...]]) -> list[Field]:
    fields = []
    for index in range(count):
        fields += int_fields(f"{prefix}{index}.", 446 + 16 * index, RECORD_FIELDS, hints=hints)
    return fields


def mbr_units(file: str, data: bytes, disk_base: int = 0) -> list[Unit]:
    """The MBR and, when there is an extended partition, its EBRs (disk_base: the disk's offset in the file)."""
    sectors = (len(data) - disk_base) // 512
    mbr = data[disk_base:disk_base + 512]
    hints = {"os_type": (0x00, 0x05, 0x07, 0x0F, 0xEE, 0x85, 0x27),
             "starting_lba": (0, 1, 2, 63, 2048, sectors - 1, sectors),
             "size_in_lba": (0, 1, sectors, sectors - 1, 0xFFFFFFFF)}
    units = [Unit("mbr", file, ((0, disk_base, 512),),
                  (*_records("record", 4, hints), Field(510, 2, "signature", hints=(0xAA55, 0))), weight=3)]
    extended = [struct.unpack_from("<II", mbr, 446 + 16 * i + 8) for i in range(4) if mbr[446 + 16 * i + 4] in EXTENDED]
    if not extended:
        return units
    start = extended[0][0]
    relative = 0
    seen: set[int] = set()
    while len(seen) < MAX_EBRS and relative not in seen and disk_base + (start + relative + 1) * 512 <= len(data):
        seen.add(relative)
        at = disk_base + (start + relative) * 512
        ebr_hints = dict(hints, starting_lba=(0, 1, relative, *sorted(seen), 0xFFFFFFFF))  # relative: itself
        units.append(Unit(f"ebr@{start + relative}", file, ((0, at, 512),), tuple(_records("record", 2, ebr_hints)),
                          weight=2))
        link_type = data[at + 446 + 16 + 4]
        relative = struct.unpack_from("<I", data, at + 446 + 16 + 8)[0]
        if data[at + 510:at + 512] != b"\x55\xaa" or link_type == 0:
            break
    return units


def _gpt_sealer(header_size_limit: int) -> Callable[[bytearray], None]:
    def seal(data: bytearray) -> None:
        count, size = struct.unpack_from("<II", data, 80)
        entries = data[header_size_limit:header_size_limit + count * size]
        struct.pack_into("<I", data, 88, zlib.crc32(entries))
        header_size = struct.unpack_from("<I", data, 12)[0]
        header = bytearray(data[:min(max(header_size, 0), header_size_limit)])
        if len(header) >= 20:
            header[16:20] = b"\0\0\0\0"
            struct.pack_into("<I", data, 16, zlib.crc32(header))
    return seal


def gpt_units(file: str, data: bytes, sector: int = 512) -> list[Unit]:
    """Both GPT copies; each unit is the header sector followed by its whole entry array."""
    sectors = len(data) // sector
    units = []
    for name, lba in (("gpt.primary", 1), ("gpt.backup", sectors - 1)):
        at = lba * sector
        if data[at:at + 8] != b"EFI PART":
            continue
        entry_lba, count, size = struct.unpack_from("<QII", data, at + 72)
        array = count * size
        if array > 1 << 20 or (entry_lba * sector) + array > len(data):
            continue
        hints = {"my_lba": (1, sectors - 1, 0), "alternate_lba": (1, sectors - 1, sectors),
                 "partition_entry_lba": (0, 1, 2, lba, sectors - 33, sectors), "header_size": (92, 512, 0, 4096),
                 "number_of_partition_entries": (0, 1, 128, 129, 32768, 0xFFFFFFFF),
                 "size_of_partition_entry": (0, 64, 128, 256, 512)}
        fields = int_fields("", 0, GPT_HEADER_FIELDS, hints=hints)
        entry_hints = {"starting_lba": (0, 1, 34, sectors - 34, sectors), "ending_lba": (0, 34, sectors - 34, sectors)}
        for index in range(min(count, MAX_GPT_ENTRIES)):
            fields += int_fields(f"entry{index}.", sector + index * size, GPT_ENTRY_FIELDS, hints=entry_hints)
        units.append(Unit(name, file, ((0, at, sector), (sector, entry_lba * sector, array)), tuple(fields),
                          _gpt_sealer(sector), weight=3))
    return units
