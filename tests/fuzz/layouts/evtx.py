"""An EVTX file: its header and each chunk (header, record headers, the first template instance), with the
header, chunk-header and event-records CRC-32s resealed (libevtx "Windows XML Event Log (EVTX) format" §2-§4)."""

from __future__ import annotations

import struct
import zlib

from tests.fuzz.model import Field, Unit, int_fields

FILE_FIELDS = ((8, 8, "first_chunk"), (16, 8, "last_chunk"), (24, 8, "next_record_id"), (32, 4, "header_size"),
               (36, 2, "minor"), (38, 2, "major"), (40, 2, "block_size"), (42, 2, "chunks"), (120, 4, "flags"))
CHUNK_FIELDS = ((8, 8, "first_record_nr"), (16, 8, "last_record_nr"), (24, 8, "first_record_id"),
                (32, 8, "last_record_id"), (40, 4, "header_size"), (44, 4, "last_record_offset"),
                (48, 4, "free_space_offset"))
CHUNK = 65536
MAX_RECORDS = 16


def _seal_file(data: bytearray) -> None:
    struct.pack_into("<I", data, 124, zlib.crc32(bytes(data[:120])))


def _seal_chunk(data: bytearray) -> None:
    free = min(max(struct.unpack_from("<I", data, 48)[0], 512), CHUNK)
    struct.pack_into("<I", data, 52, zlib.crc32(bytes(data[512:free])))
    struct.pack_into("<I", data, 124, zlib.crc32(bytes(data[:120]) + bytes(data[128:512])))


def evtx_units(file: str, data: bytes) -> list[Unit]:
    units = [Unit("evtx.header", file, ((0, 0, 4096),), tuple(int_fields("", 0, FILE_FIELDS)), _seal_file)]
    for base in range(4096, len(data) - CHUNK + 1, CHUNK):
        fields = int_fields("", 0, CHUNK_FIELDS)
        at = 512
        for index in range(MAX_RECORDS):
            if data[base + at:base + at + 4] != b"\x2a\x2a\0\0":
                break
            size = struct.unpack_from("<I", data, base + at + 4)[0]
            hints = (0, 28, size - 1, size + 8, CHUNK)
            fields += [Field(at + 4, 4, f"record{index}.size", hints=hints), Field(at + 8, 8, f"record{index}.id"),
                       Field(at + size - 4, 4, f"record{index}.size_copy", hints=hints)]
            if index == 0:  # the template instance: id, definition offset, definition data size
                fields += [Field(at + 30, 4, "template_id"), Field(at + 34, 4, "template_offset",
                                                                    hints=(0, at + 24, at + 38, CHUNK)),
                           Field(at + 58, 4, "template_size", hints=(0, 1, size, 0xFFFFFFFF))]
            at += size
        units.append(Unit(f"evtx.chunk@{base:#x}", file, ((0, base, CHUNK),), tuple(fields), _seal_chunk, weight=4))
    return units
