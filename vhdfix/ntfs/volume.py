"""An NTFS volume read through dissect.ntfs, with its defects and exceptions contained.

dissect.ntfs supplies records and streams. vhdfix adds what it lacks
(library-notes.md §4, KNOWN_ISSUES.md): the volume is opened with its sizes
checked (bounds.py), paths are resolved and directories listed by a bounded
walk of ``$I30`` that honours ``$BITMAP:$I30`` (directory.py), freed records
are never returned, entries that do not point at a live record of the same
sequence are skipped, and every library exception becomes a
:class:`CorruptVolume` naming the path involved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from dissect.ntfs.c_ntfs import ATTRIBUTE_FLAG_COMPRESSION_MASK, ATTRIBUTE_TYPE_CODE
from dissect.ntfs.c_ntfs import c_ntfs as c_dissect_ntfs
from dissect.ntfs.mft import MftRecord
from dissect.ntfs.util import AttributeCollection

from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import CorruptVolume, EncryptedVolume, foreign_errors
from vhdfix.ntfs.bounds import check_stream, open_ntfs
from vhdfix.ntfs.directory import DirectoryIndex, fold
from vhdfix.ntfs.ntfs_format import BITLOCKER_OEM_ID, FILE_RECORD_SEGMENT_IN_USE, NTFS_OEM_ID
from vhdfix.ntfs.read_hints import stream_ranges

MAX_LISTING = 100_000
HINTED_RECORDS = 1024  # the records of a directory's first entries (by number) told ahead to the disk
FILE_NAME_DOS = 0x02  # $FILE_NAME namespace: DOS-only 8.3 alias (write-path.md §3.5)
ROOT_RECORD = 5


def volume_kind(boot_sector: bytes) -> str:
    """"ntfs", "bitlocker" or "other", from the OEM id at offset 3 of the boot sector."""
    oem = boot_sector[3:11]
    if oem == NTFS_OEM_ID:
        return "ntfs"
    if oem == BITLOCKER_OEM_ID:
        return "bitlocker"
    return "other"


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    is_dir: bool
    record: int
    sequence: int


def _data_size(rec: MftRecord) -> int:
    """Size of the default data stream; 0 for directories and streamless system files."""
    return rec.size() if not rec.is_dir() and rec.has_stream("") else 0


def _windows_path(path: str) -> str:
    return "\\".join(part for part in path.replace("/", "\\").split("\\") if part)


class NtfsVolume:
    """A read-only NTFS file system on ``stream`` (a partition of the virtual disk)."""

    def __init__(self, stream: ReadOnlyStream, label: str) -> None:
        self.stream = stream
        self.label = label
        boot = stream.slice(0, 512).read(512)
        kind = volume_kind(boot)
        if kind == "bitlocker":
            raise EncryptedVolume(f"{label} is BitLocker-encrypted; it cannot be read without unlocking")
        if kind != "ntfs":
            raise CorruptVolume(f"{label} is not an NTFS volume")
        self.boot_sector = c_dissect_ntfs.BOOT_SECTOR(boot)
        with foreign_errors(CorruptVolume, f"{label}: opening NTFS"):
            self.fs = open_ntfs(stream, self.boot_sector, label)
        self.cluster_size = self.fs.cluster_size
        self.record_size = self.fs._record_size
        self.serial = f"{self.boot_sector.SerialNumber:016X}"
        self._indexes: dict[int, DirectoryIndex] = {}
        self._paths: dict[str, int | None] = {"": ROOT_RECORD}

    def record(self, path: str | int) -> MftRecord | None:
        """The live MFT record at ``path`` (case-insensitive, ``\\`` or ``/``), or None."""
        if isinstance(path, int):
            with foreign_errors(CorruptVolume, f"{self.label}: reading MFT record {path}"):
                return self._record(path)
        where = _windows_path(path)
        with foreign_errors(CorruptVolume, f"{self.label}: looking up {where}"):
            number = self._resolve(where)
            return None if number is None else self._record(number)

    def _record(self, number: int) -> MftRecord | None:
        rec = self.fs.mft.get(number)
        if not rec.header.Flags & FILE_RECORD_SEGMENT_IN_USE:
            return None  # dissect returns freed records (library-notes.md §4.6)
        return rec

    def _index(self, rec: MftRecord, where: str) -> DirectoryIndex:
        if rec.segment not in self._indexes:
            self._indexes[rec.segment] = DirectoryIndex(rec, self.cluster_size, self.stream.size, where)
        return self._indexes[rec.segment]

    def _resolve(self, path: str) -> int | None:
        """The record number at ``path``, one directory at a time; reparse points are not followed."""
        key = fold(path)
        if key in self._paths:
            return self._paths[key]
        parent, _, name = path.rpartition("\\")
        number = self._resolve(parent) if parent else ROOT_RECORD
        directory = None if number is None else self._record(number)
        found = None
        if directory is not None and directory.is_dir():
            entry = self._index(directory, f"{self.label}: {parent or 'the root directory'}").find(name)
            target = None if entry is None else self._record(entry.record)
            if target is not None and entry is not None and entry.sequence in (0, target.header.SequenceNumber):
                found = entry.record
        self._paths[key] = found
        return found

    def _will_read(self, attributes: AttributeCollection, start: int, length: int) -> None:
        """Tell the disk where the stream's bytes ``[start, start + length)`` lie before they are read (a disk in
        Azure Storage fetches the runs side by side); a compressed stream is left to its reads."""
        if not self.stream.takes_hints:
            return
        header = attributes[0].header
        if not header.resident and not header.flags & ATTRIBUTE_FLAG_COMPRESSION_MASK:
            self.stream.will_read(stream_ranges(attributes.dataruns(), self.cluster_size, [(start, length)]))

    def _will_read_records(self, numbers: Iterable[int]) -> None:
        """Tell the disk where these MFT records lie in $MFT's runs before they are read one by one."""
        runs = getattr(self.fs.mft.fh, "runlist", None)
        if runs is None or not self.stream.takes_hints:
            return
        size = self.record_size
        spans = [(number * size, size) for number in sorted(set(numbers))[:HINTED_RECORDS]]
        self.stream.will_read(stream_ranges(runs, self.cluster_size, spans))

    def stat(self, path: str) -> FileInfo | None:
        rec = self.record(path)
        if rec is None:
            return None
        with foreign_errors(CorruptVolume, f"{self.label}: reading {path}"):
            return FileInfo(_windows_path(path), _data_size(rec), rec.is_dir(), rec.segment, rec.header.SequenceNumber)

    def read_file(self, path: str, limit: int, tail: bool = False) -> tuple[bytes, bool] | None:
        """Up to ``limit`` bytes of the file's data (its start, or its end with ``tail``), and
        whether it was cut short; None if absent or not a file."""
        rec = self.record(path)
        if rec is None:
            return None
        with foreign_errors(CorruptVolume, f"{self.label}: reading {path}"):
            if rec.is_dir() or not rec.has_stream(""):
                return None
            data = rec.attributes.find("", ATTRIBUTE_TYPE_CODE.DATA)
            check_stream(data, self.cluster_size, self.stream.size, f"{self.label}: {path}")
            size = rec.size()
            start = size - limit if tail and size > limit else 0
            self._will_read(data, start, min(size, limit))
            stream = rec.open()
            if start:
                stream.seek(start)
            data = stream.read(min(size, limit))
            return data, size > limit

    def list_dir(self, path: str) -> list[FileInfo]:
        """Live entries of a directory (Win32/POSIX names; DOS 8.3 aliases are skipped)."""
        rec = self.record(path)
        if rec is None:
            return []
        entries: list[FileInfo] = []
        base = _windows_path(path)
        seen: set[str] = set()
        with foreign_errors(CorruptVolume, f"{self.label}: listing {path}"):
            if not rec.is_dir():
                return []
            listed = list(islice(self._index(rec, f"{self.label}: {path}").entries(), MAX_LISTING + 1))
            if len(listed) > MAX_LISTING:
                raise CorruptVolume(f"{self.label}: {path} lists more than {MAX_LISTING} entries")
            self._will_read_records(entry.record for entry in listed)
            for entry in listed:
                assert entry.key is not None
                name = entry.key.name
                if entry.key.namespace == FILE_NAME_DOS or name in seen:
                    continue  # the 8.3 alias of a name listed under its long form, or a name listed twice
                seen.add(name)
                target = self._record(entry.record)
                if target is None or target.header.SequenceNumber != entry.sequence:
                    continue  # a stale entry
                if target.segment == rec.segment:
                    continue  # the root directory indexes itself as "."
                child = f"{base}\\{name}" if base else name
                entries.append(FileInfo(child, _data_size(target), target.is_dir(), target.segment,
                                        target.header.SequenceNumber))
        return entries

    def volume_information(self) -> bytes:
        """The value of ``$Volume``'s ``$VOLUME_INFORMATION`` attribute."""
        rec = self.record(3)
        with foreign_errors(CorruptVolume, f"{self.label}: reading $Volume"):
            if rec is None:
                raise CorruptVolume(f"{self.label}: $Volume (record 3) is not in use")
            return rec.attributes[ATTRIBUTE_TYPE_CODE.VOLUME_INFORMATION][0].data()

    def read_metafile(self, record: int, length: int) -> bytes:
        rec = self.record(record)
        with foreign_errors(CorruptVolume, f"{self.label}: reading system file {record}"):
            if rec is None:
                raise CorruptVolume(f"{self.label}: system file record {record} is not in use")
            data = rec.attributes.find("", ATTRIBUTE_TYPE_CODE.DATA)
            check_stream(data, self.cluster_size, self.stream.size, f"{self.label}: system file {record}")
            self._will_read(data, 0, length)
            return rec.open().read(length)
