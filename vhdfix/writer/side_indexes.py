"""The indexes besides its directory that name a file: ``$Extend\\$ObjId:$O`` and ``$Extend\\$Reparse:$R``.

A file with an ``$OBJECT_ID`` (0x40) is listed in ``$ObjId:$O`` under its
object id; a file with a ``$REPARSE_POINT`` (0xC0) is listed in ``$Reparse:$R``
under its reparse tag and MFT reference (entry layouts: :mod:`vhdfix.ntfs.index_node`).
Windows removes those entries when it deletes the file, as ntfs-3g's delete
does (write-path.md §4.1 step 7, §4.6). Here each entry is found and checked
against the record before anything changes: exactly one entry names the file,
with the record's object id (or reparse tag) and sequence number, and it can
be removed exactly (:func:`~vhdfix.writer.index_edit.check_removable`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.errors import ObjectId, RefusedUnsafe, ReparsePoint, StaleIndexEntry
from vhdfix.ntfs.extents import Extents
from vhdfix.ntfs.index_node import OBJECT_ID_INDEX, REPARSE_INDEX, IndexKind
from vhdfix.ntfs.mft_record import MftRecord
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.index_edit import NtfsIndex, check_removable, read_index
from vhdfix.writer.volume_view import VolumeView

EXTEND_DIRECTORY = 11  # $Extend: $ObjId, $Quota, $Reparse, $UsnJrnl live here (write-path.md §3.1)


@dataclass(frozen=True)
class SideIndex:
    """Which attribute puts a file in which index, kept in which ``$Extend`` file, refused with which code."""

    attribute: int
    attribute_name: str
    file: str  # in $Extend
    kind: IndexKind
    refusal: type[RefusedUnsafe]
    keyed_by: int  # how many leading bytes of the attribute's value go into the entry's key
    keyed_with_reference: bool  # whether the file's MFT reference follows them in the key


# The object id is the GUID at the start of $OBJECT_ID (birth volume, birth object and domain ids may follow);
# a reparse point is indexed by the tag at the start of $REPARSE_POINT (Linux-NTFS documentation, "Attribute -
# $OBJECT_ID", "Attribute - $REPARSE_POINT", "Files - $Reparse").
OBJECT_IDS = SideIndex(ATTRIBUTE_TYPE_CODE.OBJECT_ID, "an object id", "$ObjId", OBJECT_ID_INDEX, ObjectId, 16, False)
REPARSE_POINTS = SideIndex(ATTRIBUTE_TYPE_CODE.REPARSE_POINT, "a reparse point", "$Reparse", REPARSE_INDEX,
                           ReparsePoint, 4, True)
SIDE_INDEXES = (REPARSE_POINTS, OBJECT_IDS)  # ntfs-3g's order: the reparse index, then the object id index
BY_KIND = {side.kind: side for side in SIDE_INDEXES}


def attribute_key_prefix(view: VolumeView, record: bytearray, parsed: MftRecord, side: SideIndex, path: str,
                         advice: str) -> bytes | None:
    """The bytes of the file's ``side.attribute`` value that its index key starts with, or None when it has
    no such attribute."""
    size = side.keyed_by
    found = parsed.find(side.attribute)
    if not found:
        return None
    attribute = found[0]
    if len(found) > 1:
        raise side.refusal(f"{path} has {len(found)} {side.attribute:#x} attributes; {advice}")
    if attribute.non_resident:
        length = attribute.data_size
        value = view.file_bytes(Extents(attribute.runs, view.cluster_size), 0, min(size, length),
                                f"{side.attribute:#x} attribute of {path}") if length else b""
    else:
        value = attribute.value(record)[:size]
    if len(value) < size:
        raise side.refusal(f"{path} has {side.attribute_name} of {len(value)} bytes, too short to index; {advice}")
    return value


def _index_file(view: VolumeView, path: str, side: SideIndex) -> int:
    """The MFT record of ``$Extend\\<side.file>``."""
    extend = read_directory_index(view, EXTEND_DIRECTORY)
    found = [entry for _, entry in extend.entries() if entry.key and entry.key.name == side.file]
    if len(found) != 1:
        raise StaleIndexEntry(f"{path} has {side.attribute_name}, but $Extend lists {len(found)} {side.file} "
                              "files; run chkdsk in Windows")
    entry = found[0]
    _, parsed = view.record(entry.record)
    if not parsed.in_use or parsed.sequence_number != entry.sequence:
        raise StaleIndexEntry(f"$Extend names {side.file} record {entry.record} with sequence {entry.sequence}, but "
                              f"the record is {'in use' if parsed.in_use else 'free'} with sequence "
                              f"{parsed.sequence_number}; run chkdsk in Windows")
    return entry.record


def side_index_entries(view: VolumeView, path: str, target: int, record: bytearray, parsed: MftRecord,
                       advice: str) -> list[NtfsIndex]:
    """The side indexes holding the entry of file record ``target`` (its bytes and parse), each checked to hold
    exactly one entry for it that can be removed exactly; refuse otherwise. Nothing is changed."""
    reference = target | parsed.sequence_number << 48
    indexes = []
    for side in SIDE_INDEXES:
        prefix = attribute_key_prefix(view, record, parsed, side, path, advice)
        if prefix is None:
            continue
        key = prefix + (struct.pack("<Q", reference) if side.keyed_with_reference else b"")
        index = read_index(view, _index_file(view, path, side), side.kind)
        naming = [(node, entry) for node, entry in index.entries() if entry.record == target or entry.raw_key == key]
        if len(naming) != 1 or naming[0][1].raw_key != key or naming[0][1].sequence != parsed.sequence_number:
            raise StaleIndexEntry(f"{path}: {index.describe()} holds {len(naming)} entries for it or its "
                                  f"{side.attribute_name} key {key.hex()}, not exactly the one the record implies; "
                                  "run chkdsk in Windows")
        check_removable(index, naming, path, advice)
        indexes.append(index)
    return indexes
