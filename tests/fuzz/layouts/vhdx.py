"""VHDX structures of a seed file: headers, region tables, metadata, BAT and log entries (CRC-32C resealed)."""

from __future__ import annotations

import struct
from uuid import UUID

from tests.fuzz.model import Field, Unit, int_fields
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.disk.vhdx_format import (
    BAT_REGION_GUID,
    HEADER_OFFSETS,
    LOG_SECTOR_SIZE,
    METADATA_REGION_GUID,
    REGION_TABLE_OFFSETS,
    MiB,
)

HEADER_FIELDS = ((8, 8, "sequence_number"), (16, 8, "file_write_guid"), (32, 8, "data_write_guid"),
                 (48, 8, "log_guid"), (56, 8, "log_guid.hi"), (64, 2, "log_version"), (66, 2, "version"),
                 (68, 4, "log_length"), (72, 8, "log_offset"))
REGION_ENTRY_FIELDS = ((0, 8, "guid"), (16, 8, "file_offset"), (24, 4, "length"), (28, 4, "flags"))
METADATA_ENTRY_FIELDS = ((0, 8, "item_id"), (16, 4, "offset"), (20, 4, "length"), (24, 4, "flags"))
LOG_HEADER_FIELDS = ((8, 4, "entry_length"), (12, 4, "tail"), (16, 8, "sequence_number"),
                     (24, 4, "descriptor_count"), (32, 8, "log_guid"), (48, 8, "flushed_file_offset"),
                     (56, 8, "last_file_offset"))
DESCRIPTOR_FIELDS = ((0, 4, "signature"), (8, 8, "length_or_leading"), (16, 8, "file_offset"),
                     (24, 8, "sequence_number"))
MAX_BAT_FIELDS = 512
STATES = (0, 1, 2, 3, 6, 7)


def _crc_seal(data: bytearray) -> None:
    struct.pack_into("<I", data, 4, checksum_with_field_zeroed(bytes(data), 4))


def _log_sealer(data: bytearray) -> None:
    length = struct.unpack_from("<I", data, 8)[0]
    end = min(len(data), length) if length >= 64 else len(data)
    struct.pack_into("<I", data, 4, checksum_with_field_zeroed(bytes(data[:end]), 4))


def vhdx_units(file: str, data: bytes) -> list[Unit]:
    size = len(data)
    units: list[Unit] = []
    header = data[HEADER_OFFSETS[0]:HEADER_OFFSETS[0] + 4096]
    if struct.unpack_from("<Q", data, HEADER_OFFSETS[1] + 8)[0] > struct.unpack_from("<Q", header, 8)[0]:
        header = data[HEADER_OFFSETS[1]:HEADER_OFFSETS[1] + 4096]
    log_length, log_offset = struct.unpack_from("<IQ", header, 68)
    regions: dict[UUID, tuple[int, int]] = {}
    table = data[REGION_TABLE_OFFSETS[0]:REGION_TABLE_OFFSETS[0] + 65536]
    for index in range(min(struct.unpack_from("<I", table, 8)[0], 16)):
        guid, offset, length, _ = struct.unpack_from("<16sQII", table, 16 + 32 * index)
        regions[UUID(bytes_le=guid)] = (offset, length)
    meta_at, meta_length = regions.get(METADATA_REGION_GUID, (0, 0))
    bat_at, bat_length = regions.get(BAT_REGION_GUID, (0, 0))
    offsets = (0, MiB, 2 * MiB, meta_at, bat_at, log_offset, size, size - MiB, (size // MiB + 1) * MiB)

    header_hints = {"log_offset": offsets, "log_length": (0, MiB, 2 * MiB, size), "version": (0, 1, 2),
                    "sequence_number": (0, 1 << 63)}
    for slot, at in enumerate(HEADER_OFFSETS, 1):
        units.append(Unit(f"vhdx.header{slot}", file, ((0, at, 4096),),
                          tuple(int_fields("", 0, HEADER_FIELDS, hints=header_hints)), _crc_seal, weight=2))
    region_hints = {"file_offset": offsets, "length": (0, MiB, 2 * MiB, size), "flags": (0, 1, 2)}
    region_fields = [Field(8, 4, "entry_count", hints=(0, 1, 2, 3, 2047, 2048))]
    for index in range(4):
        region_fields += int_fields(f"entry{index}.", 16 + 32 * index, REGION_ENTRY_FIELDS, hints=region_hints)
    for slot, at in enumerate(REGION_TABLE_OFFSETS, 1):
        units.append(Unit(f"vhdx.region_table{slot}", file, ((0, at, 65536),), tuple(region_fields),
                          _crc_seal, weight=2))

    if meta_at and meta_at + 65536 <= size:
        count = struct.unpack_from("<H", data, meta_at + 10)[0]
        item_offsets = tuple(struct.unpack_from("<I", data, meta_at + 32 + 32 * i + 16)[0] for i in range(count))
        meta_fields = [Field(10, 2, "entry_count", hints=(0, 5, 6, 2047, 2048))]
        for index in range(min(count + 1, 8)):
            meta_fields += int_fields(f"entry{index}.", 32 + 32 * index, METADATA_ENTRY_FIELDS,
                                      hints={"offset": (0, 65536, meta_length, *item_offsets),
                                             "length": (0, 4, 8, 16, MiB, meta_length)})
        units.append(Unit("vhdx.metadata_table", file, ((0, meta_at, 32 + 32 * min(count + 1, 8)),),
                          tuple(meta_fields), weight=2))
        for index in range(min(count, 8)):
            _, offset, length, _ = struct.unpack_from("<16sIII", data, meta_at + 32 + 32 * index)
            if 0 < length <= 4096 and meta_at + offset + length <= size:
                fields = [Field(at, 4, f"item{index}.word{at // 4}", hints=(512, 4096, MiB, 1 << 28, 1, 2, 3))
                          for at in range(0, min(length, 24) - 3, 4)]
                units.append(Unit(f"vhdx.metadata_item{index}", file, ((0, meta_at + offset, length),),
                                  tuple(fields)))

    if bat_at and bat_length:
        count = min(bat_length // 8, MAX_BAT_FIELDS, max(0, (size - bat_at) // 8))
        used = sorted({struct.unpack_from("<Q", data, bat_at + 8 * i)[0] for i in range(count)})[:6]
        hints = (*used, *(state | (mb << 20) for state in STATES for mb in (0, 1, 3, size // MiB, 1 << 40)))
        fields = tuple(Field(8 * index, 8, f"bat[{index}]", hints=hints) for index in range(count))
        units.append(Unit("vhdx.bat", file, ((0, bat_at, 8 * count),), fields, weight=3))

    if log_length and log_offset + log_length <= size:
        units += _log_units(file, data, log_offset, log_length)
    return units


def _log_units(file: str, data: bytes, log_offset: int, log_length: int) -> list[Unit]:
    units = []
    for position in range(0, log_length, LOG_SECTOR_SIZE):
        at = log_offset + position
        if data[at:at + 4] != b"loge":
            continue
        length = struct.unpack_from("<I", data, at + 8)[0]
        if not 0 < length <= log_length or length % LOG_SECTOR_SIZE:
            continue
        first = min(length, log_length - position)
        extents = [(0, at, first)]
        if first < length:
            extents.append((first, log_offset, length - first))  # the entry wraps round the end of the log
        count = struct.unpack_from("<I", data, at + 24)[0]
        fields = int_fields("", 0, LOG_HEADER_FIELDS,
                            hints={"tail": (0, position, log_length), "entry_length": (4096, log_length, 0)})
        for index in range(min(count, 16)):
            fields += int_fields(f"descriptor{index}.", 64 + 32 * index, DESCRIPTOR_FIELDS,
                                 hints={"file_offset": (0, 65536, MiB, 3 * MiB, len(data))})
        units.append(Unit(f"vhdx.log_entry@{position:#x}", file, tuple(extents), tuple(fields), _log_sealer,
                          weight=3))
    return units
