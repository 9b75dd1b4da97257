"""Remove one file from NTFS the way ntfs-3g's delete does, for the cases that can be done exactly.

write-path.md §4.7. Accepted: a plain file in its base record (no attribute
list, EAs, logged utility stream, compression, sparseness, encryption or quota
charge), with one name or a Win32 + DOS pair in one directory, its data
resident or not, perhaps an object id or a reparse point, and every index
entry that names it (in its directory's ``$I30``, ``$Extend\\$ObjId:$O``,
``$Extend\\$Reparse:$R``) a leaf entry in the index root or in an INDX block
that keeps at least one entry. The write set, in ntfs-3g's order:

1. remove each ``$I30`` entry, then its ``$R`` and ``$O`` entries (the
   resident root shrinks, §4.2 case A; an INDX block loses the entry and keeps
   its size, case B), all by :mod:`vhdfix.writer.index_edit`;
2. clear the file's clusters in ``$Bitmap`` (§4.4);
3. clear IN_USE in its record, bump the sequence number, link count 0 (§4.3);
4. clear its bit in ``$MFT:$BITMAP``.

Nothing else is touched: not ``$LogFile``, LSNs, ``$UsnJrnl``, ``$Secure``,
``$MFTMirr`` (user records are not mirrored) nor directory timestamps. Every
other case is refused with its own error code before anything is changed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE, c_ntfs

from vhdfix.errors import (
    AttributeList,
    CorruptVolume,
    EncryptedFile,
    ExtendedAttributes,
    HardLink,
    IsDirectory,
    QuotaCharged,
    RefusedUnsafe,
    StaleIndexEntry,
    TargetCompressed,
    TargetSparse,
    TornFixup,
)
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.fixup import FixupError
from vhdfix.ntfs.index_node import IndexEntry, IndexKind, IndexNode
from vhdfix.ntfs.mft_record import (
    ATTRIBUTE_COMPRESSION_MASK,
    ATTRIBUTE_ENCRYPTED,
    ATTRIBUTE_SPARSE,
    FILE_ATTRIBUTE_COMPRESSED,
    FILE_ATTRIBUTE_ENCRYPTED,
    NAMESPACE_DOS,
    NAMESPACE_WIN32,
    QUOTA_CHARGED_AT,
    SEQUENCE_NUMBER_AT,
    FileName,
    MftRecord,
)
from vhdfix.ntfs.record_edit import free_record
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.index_edit import NtfsIndex, check_removable, remove_entries
from vhdfix.writer.side_indexes import EXTEND_DIRECTORY, side_index_entries
from vhdfix.writer.volume_view import VolumeView

ROOT_DIRECTORY = 5
FIRST_USER_RECORD = 16  # records 0-15 are NTFS metafiles or reserved (write-path.md §3.1)
EFS_STREAM = "$EFS"
_FILE_ATTRIBUTES_AT = c_ntfs.STANDARD_INFORMATION_EX.fields["FileAttributes"].offset
_ADVICE = "remove it from Windows (or a repair VM) instead"


@dataclass(frozen=True)
class RemovedFile:
    """What the plan does to one file; the verifier checks each of these on the written copy."""

    path: str
    record: int
    new_sequence: int
    directory: int
    names: tuple[str, ...]
    clusters: tuple[tuple[int, int], ...]  # (lcn, count) cleared in $Bitmap
    side_indexes: tuple[tuple[int, IndexKind], ...] = ()  # (MFT record, kind) of the $O / $R it was removed from


def _split_path(path: str) -> tuple[str, str]:
    parts = [part for part in path.replace("/", "\\").split("\\") if part]
    if not parts:
        raise ValueError(f"{path!r} names no file")
    return "\\".join(parts[:-1]), parts[-1]


def _torn(view: VolumeView, what: str) -> TornFixup:
    return TornFixup(f"{view.label}: {what} has a torn multi-sector transfer (a sector was not written "
                     "completely); run chkdsk in Windows before repairing")


def _directory(view: VolumeView, ntfs: NtfsVolume, parent: str) -> NtfsIndex | None:
    if parent:
        found = ntfs.record(parent)
        if found is None or not found.is_dir():
            return None
        number = found.segment
    else:
        number = ROOT_DIRECTORY
    try:
        return read_directory_index(view, number)
    except FixupError:
        raise _torn(view, f"the index of {parent or 'the root directory'}") from None


def _check_attributes(path: str, record: bytearray, parsed: MftRecord) -> None:
    """§4.7 conditions 1-4: a plain, non-directory base record with nothing the delete would leave behind."""
    if parsed.is_directory:
        raise IsDirectory(f"{path} is a directory; vhdfix removes files only; {_ADVICE}")
    if parsed.base_record or parsed.find(ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST):
        raise AttributeList(f"{path} keeps its attributes in an attribute list (extension records), which "
                            f"vhdfix does not free; {_ADVICE}")
    for attribute in parsed.attributes:
        kind = attribute.type
        if (kind == ATTRIBUTE_TYPE_CODE.LOGGED_UTILITY_STREAM and attribute.name == EFS_STREAM) or \
                attribute.flags & ATTRIBUTE_ENCRYPTED:
            raise EncryptedFile(f"{path} is EFS-encrypted; {_ADVICE}")
        if kind in (ATTRIBUTE_TYPE_CODE.EA, ATTRIBUTE_TYPE_CODE.EA_INFORMATION,
                    ATTRIBUTE_TYPE_CODE.LOGGED_UTILITY_STREAM):
            raise ExtendedAttributes(f"{path} has extended attributes or a logged utility stream; {_ADVICE}")
        if attribute.flags & ATTRIBUTE_COMPRESSION_MASK:
            raise TargetCompressed(f"{path} is NTFS-compressed; {_ADVICE}")
        if attribute.flags & ATTRIBUTE_SPARSE:
            raise TargetSparse(f"{path} is a sparse file; {_ADVICE}")
    for info in parsed.find(ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION):
        value = info.value(record)
        attributes = struct.unpack_from("<I", value, _FILE_ATTRIBUTES_AT)[0] if len(value) >= 36 else 0
        if attributes & FILE_ATTRIBUTE_ENCRYPTED:
            raise EncryptedFile(f"{path} is EFS-encrypted; {_ADVICE}")
        if attributes & FILE_ATTRIBUTE_COMPRESSED:
            raise TargetCompressed(f"{path} is marked NTFS-compressed; {_ADVICE}")
        if len(value) >= QUOTA_CHARGED_AT + 8 and struct.unpack_from("<Q", value, QUOTA_CHARGED_AT)[0]:
            raise QuotaCharged(f"{path} is charged to a disk quota that vhdfix cannot update; {_ADVICE}")


def _check_names(path: str, names: list[FileName], parsed: MftRecord, directory: NtfsIndex) -> None:
    """§4.7 condition 5: one name, or a Win32 + DOS pair, all in this directory, and nothing else linked."""
    namespaces = sorted(name.namespace for name in names)
    single = len(names) == 1 and namespaces[0] != NAMESPACE_DOS
    pair = namespaces == [NAMESPACE_WIN32, NAMESPACE_DOS]
    same_parent = all((n.parent, n.parent_sequence) == (directory.record, directory.sequence) for n in names)
    if not (single or pair) or not same_parent or parsed.link_count != len(names):
        listed = ", ".join(f"{n.name!r} in record {n.parent}" for n in names)
        raise HardLink(f"{path} is a hard link ({parsed.link_count} links: {listed}); removing one link needs "
                       f"the record rewritten; {_ADVICE}")


def remove_file(view: VolumeView, ntfs: NtfsVolume, path: str, step: int) -> RemovedFile | None:
    """Plan the removal of ``path`` into ``view``; None when it does not exist (nothing to do)."""
    parent, name = _split_path(path)
    directory = _directory(view, ntfs, parent)
    if directory is None:
        return None
    wanted = name.upper()
    matches = {entry.record for _, entry in directory.entries() if entry.key and entry.key.name.upper() == wanted}
    if not matches:
        return None
    if len(matches) > 1:
        raise StaleIndexEntry(f"{path}: {len(matches)} directory entries of that name point to different records; "
                              "run chkdsk in Windows")
    target = matches.pop()
    if target < FIRST_USER_RECORD or directory.record == EXTEND_DIRECTORY:
        raise RefusedUnsafe(f"{path} is NTFS metadata (record {target}); vhdfix never removes it; check the "
                            "article's path")
    try:
        record, parsed = view.record(target)
    except FixupError:
        raise _torn(view, f"the MFT record of {path}") from None
    entries = [(node, entry) for node, entry in directory.entries() if entry.record == target]
    if not parsed.in_use or any(entry.sequence != parsed.sequence_number for _, entry in entries):
        raise StaleIndexEntry(f"{path}: the directory entry names record {target} with sequence "
                              f"{entries[0][1].sequence}, but the record is "
                              f"{'in use' if parsed.in_use else 'free'} with sequence {parsed.sequence_number}; "
                              "run chkdsk in Windows")
    _check_attributes(path, record, parsed)
    names = parsed.file_names(record)
    _check_names(path, names, parsed, directory)
    _check_entries(path, names, entries, directory)
    try:
        side_indexes = side_index_entries(view, path, target, record, parsed, _ADVICE)
    except FixupError:
        raise _torn(view, f"the $Extend index of {path}") from None
    clusters = tuple((run.lcn, run.length) for attribute in parsed.attributes if attribute.non_resident
                     for run in attribute.runs if run.lcn is not None)
    for lcn, count in clusters:
        if view.count_set_bits(view.cluster_bitmap, lcn, count, "$Bitmap") != count:
            raise CorruptVolume(f"{view.label}: clusters {lcn}..{lcn + count - 1} of {path} are already free in "
                                "$Bitmap; run chkdsk in Windows")
    if not view.count_set_bits(view.mft_bitmap, target, 1, "$MFT:$BITMAP"):
        raise CorruptVolume(f"{view.label}: record {target} of {path} is in use but free in $MFT:$BITMAP; "
                            "run chkdsk in Windows")

    for index in (directory, *side_indexes):
        remove_entries(view, index, lambda entry: entry.record == target, lambda entry: _entry_name(entry, path),
                       step)
    for lcn, count in clusters:
        view.clear_bits(view.cluster_bitmap, lcn, count, "$Bitmap", step,
                        f"$Bitmap: free clusters {lcn}..{lcn + count - 1} of {path}")
    unit = view.record_unit(target)
    new_sequence = free_record(unit.current, parsed)
    view.note(unit, SEQUENCE_NUMBER_AT, SEQUENCE_NUMBER_AT + 8, step,
              f"free {path}: clear IN_USE, sequence {parsed.sequence_number} -> {new_sequence}, link count 0")
    view.clear_bits(view.mft_bitmap, target, 1, "$MFT:$BITMAP", step, f"$MFT:$BITMAP: free record {target} ({path})")
    return RemovedFile(path, target, new_sequence, directory.record, tuple(n.name for n in names), clusters,
                       tuple((index.record, index.kind) for index in side_indexes))


def _entry_name(entry: IndexEntry, path: str) -> str:
    return f"entry {entry.key.name!r} of {path}" if entry.key else f"entry {entry.raw_key.hex()} of {path}"


def _check_entries(path: str, names: list[FileName], entries: list[tuple[IndexNode, IndexEntry]],
                   directory: NtfsIndex) -> None:
    """§4.7 conditions 6-7: one entry per name, each removable exactly (leaves only, no INDX block left empty)."""
    keys = sorted((entry.key.namespace, entry.key.name, entry.key.parent) for _, entry in entries if entry.key)
    if keys != sorted((n.namespace, n.name, n.parent) for n in names):
        raise StaleIndexEntry(f"{path}: the directory's entries ({len(entries)}) do not match the record's "
                              f"names ({len(names)}); run chkdsk in Windows")
    check_removable(directory, entries, path, _ADVICE)
