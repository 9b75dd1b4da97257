"""Bounds checked before dissect.target opens an archive: what it would hold in memory.

* **tar** (plain or compressed): dissect's ``TarLoader`` reads every member
  header into memory (``TarFile.getmembers``) and maps each into a virtual file
  system; a small compressed archive can hold millions of headers. The headers
  are counted first, streaming, up to :data:`MAX_ARCHIVE_MEMBERS`.
* **zip**: ``zipfile`` reads the whole central directory (its size as the end
  of central directory record declares it) into memory and makes an object of
  every entry in it. The declared size is read first and refused above
  :data:`MAX_ZIP_CENTRAL_DIRECTORY`.
* **EWF** (E01): dissect.evidence follows each segment file's chain of section
  descriptors without checking that it moves forward (a chain that points back
  is walked for ever, its descriptors kept in memory), reads the sections it
  parses at their declared sizes, and inflates the header sections whole.
  Every segment file dissect will open is walked first: each next section
  after the one before, at most :data:`MAX_EWF_SECTIONS`, each section dissect
  reads inside the file, a table's entries inside its section, and a header
  section inflating to at most :data:`MAX_EWF_HEADER`.
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from vhdfix.errors import DissectFailed, FallbackTooLarge, foreign_errors

MAX_ARCHIVE_MEMBERS = 100_000  # dissect holds ~1.5 KB per entry (measured: 50000 entries, 84 MB); 150 MB at most
MAX_ZIP_CENTRAL_DIRECTORY = 32 << 20  # 100000 entries of Windows-length paths take ~15 MiB (46 bytes + name)

# PKWARE APPNOTE.TXT 4.3.16 (end of central directory record), 4.3.15 (zip64 locator), 4.3.14 (zip64 record);
# located the way CPython's zipfile locates them, so the size checked is the size zipfile reads.
EOCD = struct.Struct("<4s4H2LH")  # signature, disk numbers, entries here, entries total, cd size, cd offset, comment
EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries total, cd size, cd offset
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
MAX_COMMENT = 0xFFFF

# libewf's "Expert Witness Compression Format (EWF)" specification: 2.1 the 13-byte file header, 3.1 the 76-byte
# section descriptor (its size counts the descriptor), 3.9 the table section (a 24-byte header, then 4-byte entries).
EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"LVF\x09\x0d\x0a\xff\x00")
EWF_FILE_HEADER_SIZE = 13
EWF_SECTION = struct.Struct("<16sQQ40xL")  # type, next section's offset, section size, checksum
EWF_TABLE_HEADER_SIZE = 24
EWF_LAST_TYPE = b"done"  # ends the last segment file; the others end on a "next" section naming itself
EWF_READ_TYPES = (b"header", b"header2", b"disk", b"volume", b"table")  # the sections dissect reads
MAX_EWF_SECTIONS = 100_000  # sectors, table and table2 sections per table of chunks: a few per 512 MiB of disk
MAX_EWF_HEADER = 1 << 20  # header and header2 hold the case's acquisition notes: a few KB


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    if offset < 0:
        return b""
    stream.seek(offset)
    return stream.read(length)


def zip_central_directory(stream: BinaryIO, size: int) -> tuple[int, int] | None:
    """(entries, central directory size) as the end records declare them; None when there is no end record."""
    tail_start = max(size - EOCD.size - MAX_COMMENT, 0)
    tail = _read_at(stream, tail_start, size - tail_start)
    last = tail[-EOCD.size:]
    plain = len(last) == EOCD.size and last[:4] == EOCD_SIGNATURE and last[-2:] == b"\0\0"  # no comment
    at = len(tail) - EOCD.size if plain else tail.rfind(EOCD_SIGNATURE)
    if at < 0 or at + EOCD.size > len(tail):
        return None
    fields = EOCD.unpack_from(tail, at)
    entries, cd_size = fields[4], fields[5]
    eocd_offset = tail_start + at
    locator = _read_at(stream, eocd_offset - ZIP64_LOCATOR.size, ZIP64_LOCATOR.size)
    if len(locator) == ZIP64_LOCATOR.size and locator[:4] == ZIP64_LOCATOR_SIGNATURE:
        record = _read_at(stream, eocd_offset - ZIP64_LOCATOR.size - ZIP64_EOCD.size, ZIP64_EOCD.size)
        if len(record) == ZIP64_EOCD.size and record[:4] == ZIP64_EOCD_SIGNATURE:
            fields = ZIP64_EOCD.unpack(record)
            entries, cd_size = fields[7], fields[8]
    return entries, cd_size


def check_tar(path: Path) -> None:
    with foreign_errors(DissectFailed, f"{path.name}: reading the tar archive"), \
            tarfile.open(path, "r:*") as archive:
        members = 0
        while archive.next() is not None:  # one header at a time; the count bounds what tarfile keeps
            members += 1
            if members > MAX_ARCHIVE_MEMBERS:
                raise FallbackTooLarge(f"{path.name}: more than {MAX_ARCHIVE_MEMBERS} archive entries; dissect.target "
                                       "would hold every one in memory")


def check_zip(path: Path) -> None:
    with foreign_errors(DissectFailed, f"{path.name}: reading the zip archive"), open(path, "rb") as stream:
        found = zip_central_directory(stream, path.stat().st_size)
    if found is None:
        return  # not a zip zipfile opens: dissect fails on it as it should
    entries, cd_size = found
    if cd_size > MAX_ZIP_CENTRAL_DIRECTORY or entries > MAX_ARCHIVE_MEMBERS:
        raise FallbackTooLarge(f"{path.name}: a central directory of {cd_size} bytes and {entries} entries; "
                               f"more than {MAX_ZIP_CENTRAL_DIRECTORY} bytes or {MAX_ARCHIVE_MEMBERS} entries, "
                               "which dissect.target would hold in memory")


def _check_ewf_header(stream: BinaryIO, name: str, offset: int, size: int) -> None:
    inflater = zlib.decompressobj()
    inflated = inflater.decompress(_read_at(stream, offset + EWF_SECTION.size, size - EWF_SECTION.size),
                                   MAX_EWF_HEADER + 1)
    if len(inflated) > MAX_EWF_HEADER:
        raise FallbackTooLarge(f"{name}: a header section inflating to more than {MAX_EWF_HEADER} bytes, which "
                               "dissect.target would inflate whole in memory")


def check_ewf_segment(path: Path) -> None:
    """Walk one segment file's section chain as dissect.evidence will, refusing what it would not survive."""
    with foreign_errors(DissectFailed, f"{path.name}: reading the EWF segment file"), open(path, "rb") as stream:
        file_size = path.stat().st_size
        offset = EWF_FILE_HEADER_SIZE
        for _ in range(MAX_EWF_SECTIONS):
            descriptor = _read_at(stream, offset, EWF_SECTION.size)
            if len(descriptor) < EWF_SECTION.size:
                raise DissectFailed(f"{path.name}: the EWF section at {offset} is cut short")
            kind, following, size, _checksum = EWF_SECTION.unpack(descriptor)
            kind = kind.rstrip(b"\0")
            if kind in EWF_READ_TYPES and (size < EWF_SECTION.size or offset + size > file_size):
                raise DissectFailed(f"{path.name}: the EWF {kind!r} section at {offset} is not inside the file")
            if kind == b"table":
                entries = struct.unpack("<L", _read_at(stream, offset + EWF_SECTION.size, 4))[0]
                if EWF_SECTION.size + EWF_TABLE_HEADER_SIZE + 4 * entries > size:
                    raise DissectFailed(f"{path.name}: the EWF table at {offset} has more entries than it holds")
            if kind in (b"header", b"header2"):
                _check_ewf_header(stream, path.name, offset, size)
            if kind == EWF_LAST_TYPE or following == offset:
                return
            if following < offset + EWF_SECTION.size:
                raise DissectFailed(f"{path.name}: the EWF section at {offset} names an earlier one as the next")
            offset = following
    raise FallbackTooLarge(f"{path.name}: more than {MAX_EWF_SECTIONS} EWF sections")


def check_ewf(path: Path) -> None:
    """Every segment file dissect.evidence opens for ``path`` (.E01, .E02...), walked before it does."""
    from dissect.evidence.ewf import find_files

    with foreign_errors(DissectFailed, f"{path.name}: finding the EWF segment files"):
        segments = find_files(path)
    for segment in segments:
        check_ewf_segment(segment)


def check_archive(path: Path, loader: str) -> None:
    """Refuse, before dissect reads it, an archive or EWF image it would not read in bounded memory and time.

    By content as well as by ``loader``: several dissect loaders (Acquire, KAPE, Velociraptor...) open zips,
    and dissect's raw loader opens an EWF image through its ``ewf`` container.
    """
    if not path.is_file():
        return
    with foreign_errors(DissectFailed, f"{path.name}: recognising the archive"):
        with open(path, "rb") as stream:
            is_ewf = stream.read(len(EWF_SIGNATURES[0])) in EWF_SIGNATURES
        is_zip = not is_ewf and zipfile.is_zipfile(path)
        is_tar = loader == "tar" or (not is_ewf and not is_zip and tarfile.is_tarfile(path))
    if is_ewf:
        check_ewf(path)
    elif is_zip:
        check_zip(path)
    elif is_tar:
        check_tar(path)
