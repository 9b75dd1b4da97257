"""An MFT record parsed from its raw bytes, keeping every byte position a writer needs.

dissect.ntfs parses records for navigation but hides where fields lie and
returns freed records (library-notes.md §4.2, §4.6). This module reads one
fixed-up record (``vhdfix.ntfs.fixup.apply_fixup``) with the structure
definitions of ``dissect.ntfs.c_ntfs`` and bounds-checks every offset.
Layouts: write-path.md §3.3-3.5 (ntfs-3g ``layout.h`` names in comments).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE, c_ntfs

from vhdfix.ntfs.extents import Run, decode_mapping_pairs

RECORD_MAGIC = b"FILE"
# FILE_RECORD_SEGMENT_HEADER.Flags (layout.h MFT_RECORD_FLAGS)
RECORD_IN_USE = 0x0001
RECORD_IS_DIRECTORY = 0x0002
# ATTRIBUTE_RECORD_HEADER.Flags (layout.h ATTR_FLAGS)
ATTRIBUTE_COMPRESSION_MASK = 0x00FF
ATTRIBUTE_ENCRYPTED = 0x4000
ATTRIBUTE_SPARSE = 0x8000
# $FILE_NAME namespaces (layout.h FILE_NAME_TYPE_FLAGS)
NAMESPACE_POSIX = 0
NAMESPACE_WIN32 = 1
NAMESPACE_DOS = 2
NAMESPACE_WIN32_AND_DOS = 3
# $STANDARD_INFORMATION.FileAttributes bits that the delete must refuse
FILE_ATTRIBUTE_COMPRESSED = 0x00000800
FILE_ATTRIBUTE_ENCRYPTED = 0x00004000
END_MARKER = 0xFFFFFFFF
MFT_REFERENCE_SEGMENT_MASK = (1 << 48) - 1

_HEADER = c_ntfs.FILE_RECORD_SEGMENT_HEADER
_ATTRIBUTE = c_ntfs.ATTRIBUTE_RECORD_HEADER
_FORM = _ATTRIBUTE.fields["Form"].offset
_RESIDENT = _ATTRIBUTE.fields["Form"].type.fields["Resident"].type.fields
_NONRESIDENT = _ATTRIBUTE.fields["Form"].type.fields["Nonresident"].type.fields

# Byte positions inside a record and inside an attribute record, for the writers.
SEQUENCE_NUMBER_AT = _HEADER.fields["SequenceNumber"].offset
LINK_COUNT_AT = _HEADER.fields["ReferenceCount"].offset
FLAGS_AT = _HEADER.fields["Flags"].offset
BYTES_IN_USE_AT = _HEADER.fields["BytesInUse"].offset
_BASE_RECORD_AT = _HEADER.fields["BaseFileRecordSegment"].offset
ATTRIBUTE_LENGTH_AT = _ATTRIBUTE.fields["RecordLength"].offset
VALUE_LENGTH_AT = _FORM + _RESIDENT["ValueLength"].offset
RESIDENT_HEADER_SIZE = _FORM + len(_ATTRIBUTE.fields["Form"].type.fields["Resident"].type)
NONRESIDENT_HEADER_SIZE = _FORM + _NONRESIDENT["TotalAllocated"].offset  # compressed_size only when compressed
QUOTA_CHARGED_AT = c_ntfs.STANDARD_INFORMATION_EX.fields["QuotaCharged"].offset
FILE_NAME_FIXED_SIZE = c_ntfs.FILE_NAME.fields["FileName"].offset
_FILE_NAME_LENGTH_AT = c_ntfs.FILE_NAME.fields["FileNameLength"].offset
_FILE_NAME_NAMESPACE_AT = c_ntfs.FILE_NAME.fields["Flags"].offset
# ParentDirectory (u64) at 0 and FileAttributes (u32) at 56 (write-path.md §3.5)
_FILE_NAME_FIELDS = struct.Struct(f"<Q{c_ntfs.FILE_NAME.fields['FileAttributes'].offset - 8}xI")


class RecordError(ValueError):
    """A record's structure is inconsistent."""


def split_reference(reference: int) -> tuple[int, int]:
    """(record number, sequence number) of an MFT reference (write-path.md §3.1)."""
    return reference & MFT_REFERENCE_SEGMENT_MASK, reference >> 48


@dataclass(frozen=True)
class FileName:
    """A ``$FILE_NAME`` value: in a record, or as the key of an ``$I30`` entry (write-path.md §3.5)."""

    parent: int  # record number of the parent directory
    parent_sequence: int
    namespace: int
    name: str
    file_attributes: int


def parse_file_name(value: bytes) -> FileName:
    if len(value) < FILE_NAME_FIXED_SIZE:
        raise RecordError(f"$FILE_NAME of {len(value)} bytes is shorter than its fixed part")
    length = value[_FILE_NAME_LENGTH_AT]
    if FILE_NAME_FIXED_SIZE + 2 * length > len(value):
        raise RecordError("$FILE_NAME name runs past the value")
    # Read with struct rather than a cstruct parse: directory lookups decode hundreds of these.
    reference, attributes = _FILE_NAME_FIELDS.unpack_from(value)
    parent, sequence = split_reference(reference)
    name = value[FILE_NAME_FIXED_SIZE:FILE_NAME_FIXED_SIZE + 2 * length].decode("utf-16-le", "surrogatepass")
    return FileName(parent, sequence, value[_FILE_NAME_NAMESPACE_AT], name, attributes)


@dataclass(frozen=True)
class Attribute:
    """One attribute record; offsets are relative to the start of the record."""

    offset: int
    type: int
    length: int
    non_resident: bool
    name: str
    flags: int
    value_offset: int = 0  # resident: where the value starts inside the attribute record
    value_length: int = 0
    lowest_vcn: int = 0  # non-resident
    allocated_size: int = 0
    data_size: int = 0
    initialized_size: int = 0
    runs: tuple[Run, ...] = ()

    @property
    def end(self) -> int:
        return self.offset + self.length

    def value(self, record: bytes | bytearray) -> bytes:
        """The value of a resident attribute."""
        start = self.offset + self.value_offset
        return bytes(record[start:start + self.value_length])


@dataclass(frozen=True)
class MftRecord:
    """A parsed base or extension record (``MFT_RECORD``)."""

    size: int
    sequence_number: int
    link_count: int
    flags: int
    bytes_in_use: int
    base_record: int  # record number of the base record; 0 for a base record
    attributes: tuple[Attribute, ...]
    end_offset: int  # where the 0xFFFFFFFF end marker lies

    @property
    def in_use(self) -> bool:
        return bool(self.flags & RECORD_IN_USE)

    @property
    def is_directory(self) -> bool:
        return bool(self.flags & RECORD_IS_DIRECTORY)

    def find(self, type_code: int, name: str | None = None) -> list[Attribute]:
        return [a for a in self.attributes if a.type == type_code and (name is None or a.name == name)]

    def file_names(self, record: bytes | bytearray) -> list[FileName]:
        return [parse_file_name(a.value(record)) for a in self.find(ATTRIBUTE_TYPE_CODE.FILE_NAME)]


def _attribute(record: bytes | bytearray, at: int, limit: int) -> Attribute:
    header = _ATTRIBUTE(bytes(record[at:at + len(_ATTRIBUTE)]).ljust(len(_ATTRIBUTE), b"\0"))
    length = header.RecordLength
    if length < RESIDENT_HEADER_SIZE or length % 8 or at + length > limit:
        raise RecordError(f"attribute at {at} has a bad length {length}")
    name = ""
    if header.NameLength:
        if header.NameOffset + 2 * header.NameLength > length:
            raise RecordError(f"attribute at {at}: name runs past the attribute")
        start = at + header.NameOffset
        name = bytes(record[start:start + 2 * header.NameLength]).decode("utf-16-le", "surrogatepass")
    common = {"offset": at, "type": int(header.TypeCode), "length": length, "name": name, "flags": header.Flags}
    if not header.FormCode:
        resident = header.Form.Resident
        if resident.ValueOffset + resident.ValueLength > length:
            raise RecordError(f"attribute at {at}: resident value runs past the attribute")
        return Attribute(non_resident=False, value_offset=resident.ValueOffset, value_length=resident.ValueLength,
                         **common)
    if length < NONRESIDENT_HEADER_SIZE:
        raise RecordError(f"non-resident attribute at {at} is too short")
    form = header.Form.Nonresident
    if not NONRESIDENT_HEADER_SIZE <= form.MappingPairsOffset < length:
        raise RecordError(f"attribute at {at}: mapping pairs at {form.MappingPairsOffset}")
    runs = decode_mapping_pairs(bytes(record), at + form.MappingPairsOffset, at + length, form.LowestVcn)
    if form.FileSize > form.AllocatedLength or form.ValidDataLength > form.FileSize:
        raise RecordError(f"attribute at {at}: sizes {form.AllocatedLength}/{form.FileSize}/{form.ValidDataLength}")
    return Attribute(non_resident=True, lowest_vcn=form.LowestVcn, allocated_size=form.AllocatedLength,
                     data_size=form.FileSize, initialized_size=form.ValidDataLength, runs=tuple(runs), **common)


def parse_record(record: bytes | bytearray) -> MftRecord:
    """Parse a fixed-up record; RecordError when it is not a consistent ``FILE`` record."""
    if bytes(record[:4]) != RECORD_MAGIC:
        raise RecordError(f"no FILE signature ({bytes(record[:4])!r})")
    header = _HEADER(bytes(record[:len(_HEADER)]))
    size = len(record)
    in_use = header.BytesInUse
    if header.BytesAllocated != size or in_use > size or in_use % 8 or header.FirstAttributeOffset >= in_use:
        raise RecordError(f"record sizes: allocated {header.BytesAllocated}, in use {in_use}, "
                          f"first attribute {header.FirstAttributeOffset}")
    attributes = []
    at = header.FirstAttributeOffset
    while True:
        if at + 4 > in_use:
            raise RecordError("no end marker inside the bytes in use")
        if int.from_bytes(record[at:at + 4], "little") == END_MARKER:
            break
        attribute = _attribute(record, at, in_use)
        attributes.append(attribute)
        at = attribute.end
    base, _ = split_reference(int.from_bytes(record[_BASE_RECORD_AT:_BASE_RECORD_AT + 8], "little"))
    return MftRecord(size, header.SequenceNumber, header.ReferenceCount, header.Flags, in_use, base,
                     tuple(attributes), at)
