"""Units of an Acquire-style collection: tar member headers and zip end/central directory records.

tar: POSIX.1-1988 ustar header (size at 124, octal text; checksum at 148); zip: PKWARE APPNOTE.TXT 4.3.12
(central directory header) and 4.3.16 (end of central directory record).
"""

from __future__ import annotations

import struct

from tests.fuzz.model import Unit, int_fields

TAR_BLOCK = 512
TAR_SIZE = slice(124, 136)
TAR_CHECKSUM = slice(148, 156)
# octal texts of sizes that matter: zero, past the archive's end, enormous, and base-256 (GNU) enormous
TAR_SIZES = (b"00000000000\0", b"00001000000\0", b"77777777777\0", b"\x80" + b"\0" * 3 + b"\xff" * 8)
CENTRAL_HEADER = b"PK\x01\x02"
CENTRAL_FIELDS = ((20, 4, "compressed_size"), (24, 4, "size"), (28, 2, "name_length"), (30, 2, "extra_length"),
                  (32, 2, "comment_length"), (42, 4, "local_header_offset"))
EOCD_FIELDS = ((8, 2, "entries_here"), (10, 2, "entries"), (12, 4, "cd_size"), (16, 4, "cd_offset"),
               (20, 2, "comment_length"))


def seal_tar_header(header: bytearray) -> None:
    header[TAR_CHECKSUM] = b" " * 8
    header[TAR_CHECKSUM] = b"%06o\0 " % sum(header)


def tar_units(name: str, data: bytes, limit: int = 64) -> list[Unit]:
    """The first ``limit`` member headers, walked by their declared sizes."""
    units = []
    offset = 0
    while offset + TAR_BLOCK <= len(data) and data[offset:offset + TAR_BLOCK].strip(b"\0") and len(units) < limit:
        header = data[offset:offset + TAR_BLOCK]
        size = int(header[TAR_SIZE].rstrip(b"\0 ") or b"0", 8)
        member = header[:100].rstrip(b"\0").decode(errors="replace")
        units.append(Unit(f"tar:{member}", name, ((0, offset, TAR_BLOCK),), seal=seal_tar_header,
                          replacements=tuple((TAR_SIZE.start, size_text) for size_text in TAR_SIZES)))
        offset += TAR_BLOCK + -(-size // TAR_BLOCK) * TAR_BLOCK
    return units


def zip_units(name: str, data: bytes, limit: int = 64) -> list[Unit]:
    """The end of central directory record and the first ``limit`` central directory headers."""
    end = data.rfind(b"PK\x05\x06")
    units = [Unit("zip:end", name, ((0, end, 22),), tuple(int_fields("", 0, EOCD_FIELDS)), weight=3)]
    cd_offset = struct.unpack_from("<L", data, end + 16)[0]
    at = cd_offset
    while data[at:at + 4] == CENTRAL_HEADER and len(units) <= limit:
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, at + 28)
        length = 46 + name_length + extra_length + comment_length
        units.append(Unit(f"zip:central@{at:#x}", name, ((0, at, length),), tuple(int_fields("", 0, CENTRAL_FIELDS))))
        at += length
    return units
