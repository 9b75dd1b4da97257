"""The writer's own checks of a written copy: the plan landed as intended (write-path.md §9.2).

Everything is read through new objects (a new container reader, a new
dissect.ntfs object - it caches records - and a new volume view), and:

1. every MFT record and INDX block the plan wrote passes its fixup check;
2. in every directory whose index changed, each ``$I30`` entry of the root
   and of the in-use INDX blocks points to an in-use base record with the
   same sequence number and a matching ``$FILE_NAME`` (parent, name,
   namespace); the index root's lengths are consistent (``index_length ==
   allocated_size``, attribute length, the record's bytes in use); no entry
   names a removed record;
3. in every ``$Extend\\$ObjId:$O`` and ``$Extend\\$Reparse:$R`` index a removed file was taken out of, the
   root's lengths are consistent as above, the keys of each node are in collation order
   (COLLATION_NTOFS_ULONGS), no entry names a removed record, and each entry names an in-use base record with
   the same sequence number whose ``$OBJECT_ID`` (or ``$REPARSE_POINT`` tag) is the entry's key;
4. each removed record is free in its flags and in ``$MFT:$BITMAP``, with the
   planned sequence number;
5. every cluster freed is clear in ``$Bitmap``;
6. each edited hive is read back with vhdfix's recovery (which ignores the
   logs of a clean hive, so this is also the simulated Windows log recovery:
   it must change nothing): not dirty, valid checksum, both sequence numbers
   equal to the committed one, a full cell walk from the root succeeds, and
   every value holds its new data, in the walk and through the hive reader that inspect uses;
   every deleted value and key is gone from both.

:func:`check_structures` raises :class:`~vhdfix.errors.VerificationFailed`
listing every failure; :func:`structures_check` reports the same as a
:class:`~vhdfix.verify.check.Check` of a repair.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import struct
from dataclasses import dataclass

from vhdfix.disk import open_disk
from vhdfix.errors import VerificationFailed, VhdfixError
from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.index_node import IndexEntry, IndexKind, ntofs_ulongs
from vhdfix.ntfs.mft_record import RECORD_MAGIC, MftRecord
from vhdfix.plan import WritePlan
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.registry.regf_format import REG_DWORD
from vhdfix.verify.check import Check
from vhdfix.windows.hives import HiveReading
from vhdfix.writer.context import WriteContext, context_for
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.hive_plan import EditedHive
from vhdfix.writer.index_edit import NtfsIndex, read_index
from vhdfix.writer.planner import Expectations, RepairPlan
from vhdfix.writer.side_indexes import BY_KIND, attribute_key_prefix
from vhdfix.writer.volume_view import VolumeView

_MAGICS = (RECORD_MAGIC, b"INDX")


@dataclass(frozen=True)
class VerificationReport:
    written_blocks: int
    directories: int
    index_entries: int
    side_indexes: int
    side_index_entries: int
    removed_records: int
    freed_clusters: int
    hives: int
    hive_keys: int
    hive_values: int

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _align8(number: int) -> int:
    return (number + 7) & ~7


class _Checker:
    def __init__(self, context: WriteContext, expected: Expectations) -> None:
        self.context = context
        self.expected = expected
        self.view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        self.problems: list[str] = []
        self.counts = {"entries": 0, "side_indexes": 0, "side_entries": 0, "keys": 0, "values": 0}

    def blocks(self) -> None:
        for label, ranges in self.expected.written_blocks:
            raw = b"".join(self.view.read_volume(at, length) for at, length in ranges)
            try:
                fixed = apply_fixup(raw, len(raw))
            except FixupError as exc:
                self.problems.append(f"{label}: {exc}")
                continue
            if fixed[:4] not in _MAGICS:
                self.problems.append(f"{label}: signature {fixed[:4]!r}")

    def directories(self) -> None:
        removed = {item.record for item in self.expected.removed}
        for number in self.expected.directories:
            try:
                index = read_directory_index(self.view, number)
            except (VhdfixError, FixupError) as exc:
                self.problems.append(f"directory record {number}: {exc}")
                continue
            self._root_lengths(index)
            for _, entry in index.entries():
                self.counts["entries"] += 1
                self._entry(number, entry, removed)

    def _root_lengths(self, index: NtfsIndex) -> None:
        root, parsed = index.root_attribute, index.parsed
        where = f"MFT record {index.record} ({index.kind.label})"
        if root.length != _align8(root.value_offset + root.value_length):
            self.problems.append(f"{where}: $INDEX_ROOT length {root.length} for a {root.value_length}-byte value "
                                 f"at {root.value_offset}")
        if parsed.bytes_in_use != _align8(parsed.end_offset + 4):
            self.problems.append(f"{where}: {parsed.bytes_in_use} bytes in use, end marker at {parsed.end_offset}")

    def side_indexes(self) -> None:
        removed = {item.record for item in self.expected.removed}
        indexes: dict[tuple[int, IndexKind], None] = {}
        for item in self.expected.removed:
            indexes.update(dict.fromkeys(item.side_indexes))
        for number, kind in indexes:
            try:
                index = read_index(self.view, number, kind)
            except (VhdfixError, FixupError) as exc:
                self.problems.append(f"{kind.label} (MFT record {number}): {exc}")
                continue
            self.counts["side_indexes"] += 1
            self._root_lengths(index)
            for node in index.nodes():
                keys = [ntofs_ulongs(entry.raw_key) for entry in node.keyed_entries]
                if any(first >= second for first, second in itertools.pairwise(keys)):
                    self.problems.append(f"{index.describe()}: the keys of node "
                                         f"{'root' if node.vcn is None else f'VCN {node.vcn}'} are out of order")
            for _, entry in index.entries():
                self.counts["side_entries"] += 1
                self._side_entry(index, entry, removed)

    def _live_record(self, where: str, number: int, sequence: int,
                     removed: set[int]) -> tuple[bytearray, MftRecord] | None:
        """The in-use base record an index entry names, or None with the problem noted."""
        if number in removed:
            self.problems.append(f"{where} still names removed record {number}")
            return None
        try:
            record, parsed = self.view.record(number)
        except (VhdfixError, FixupError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return None
        if not parsed.in_use or parsed.base_record or parsed.sequence_number != sequence:
            self.problems.append(f"{where}: record {number} is not an in-use base record with sequence {sequence}")
            return None
        return record, parsed

    def _side_entry(self, index: NtfsIndex, entry: IndexEntry, removed: set[int]) -> None:
        where = f"{index.describe()}, entry {entry.raw_key.hex()}"
        found = self._live_record(where, entry.record, entry.sequence, removed)
        if found is None:
            return
        side = BY_KIND[index.kind]
        try:
            prefix = attribute_key_prefix(self.view, *found, side, f"record {entry.record}", "")
        except (VhdfixError, FixupError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return
        if prefix is None or not entry.raw_key.startswith(prefix):
            self.problems.append(f"{where}: record {entry.record} has no {side.attribute_name} matching the key")

    def _entry(self, directory: int, entry: IndexEntry, removed: set[int]) -> None:
        key = entry.key
        if key is None:
            return
        where = f"directory record {directory}, entry {key.name!r}"
        found = self._live_record(where, entry.record, entry.sequence, removed)
        if found is None:
            return
        record, parsed = found
        try:
            names = parsed.file_names(record)
        except (VhdfixError, FixupError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return
        if not any((n.parent, n.name, n.namespace) == (key.parent, key.name, key.namespace) for n in names):
            self.problems.append(f"{where}: record {entry.record} has no matching $FILE_NAME")

    def removed(self) -> None:
        for item in self.expected.removed:
            _, parsed = self.view.record(item.record)
            if parsed.in_use or parsed.sequence_number != item.new_sequence or parsed.link_count:
                self.problems.append(f"{item.path}: record {item.record} has flags {parsed.flags:#x}, sequence "
                                     f"{parsed.sequence_number}, link count {parsed.link_count}")
            if self.view.count_set_bits(self.view.mft_bitmap, item.record, 1, "$MFT:$BITMAP"):
                self.problems.append(f"{item.path}: record {item.record} is still in use in $MFT:$BITMAP")
            for lcn, count in item.clusters:
                still = self.view.count_set_bits(self.view.cluster_bitmap, lcn, count, "$Bitmap")
                if still:
                    self.problems.append(f"{item.path}: {still} of clusters {lcn}..{lcn + count - 1} still "
                                         "allocated in $Bitmap")

    def hives(self) -> None:
        for edited in self.expected.hives:
            self._hive(edited)

    def _bcd(self, edited: EditedHive) -> HiveReading | None:
        store = self.context.bcd()
        if store is None or store.partition.offset != edited.volume:
            self.problems.append(f"{edited.path}: the copy's BCD is not on the partition at {edited.volume}")
            return None
        return store.as_hive_reading()

    def _hive(self, edited: EditedHive) -> None:
        reading = self.context.hive(edited.name) if edited.volume is None else self._bcd(edited)
        if reading is None:
            return
        if reading.hive is None:
            self.problems.append(f"{edited.path}: {reading.error}")
            return
        hive = reading.hive
        base = read_base_block(hive.data)
        if hive.state != "clean" or not base.valid or base.is_dirty:
            self.problems.append(f"{edited.path}: read back as {hive.state}, checksum "
                                 f"{'valid' if base.checksum_valid else 'invalid'}, sequence numbers "
                                 f"{base.primary_sequence_number}/{base.secondary_sequence_number}")
            return
        if base.primary_sequence_number != edited.sequence:
            self.problems.append(f"{edited.path}: sequence {base.primary_sequence_number}, planned {edited.sequence}")
        try:
            paths = KeyPaths.strict(edited.name, hive.data)
            for _, values in paths.walk():
                self.counts["keys"] += 1
                self.counts["values"] += len(values)
        except VhdfixError as exc:
            self.problems.append(f"{edited.path}: full walk failed: {exc}")
            return
        for deleted in edited.deleted_values:
            key = paths.find_key(deleted.key)
            if key is not None and paths.find_value(key[0], deleted.name, f"key {deleted.key!r}") is not None:
                self.problems.append(f"{deleted.label}: still present after its deletion")
            elif hive.value(deleted.key, deleted.name) is not None:
                self.problems.append(f"{deleted.label}: inspect's hive reader still reads it")
        for gone in edited.deleted_keys:
            if paths.find_key(gone.key) is not None or hive.key(gone.key) is not None:
                self.problems.append(f"{gone.label}: still present after its deletion")
        for setting in edited.settings:
            expected = struct.pack("<I", setting.value) if isinstance(setting.value, int) else \
                setting.value.encode("utf-16-le") + b"\0\0"
            key = paths.find_key(setting.key)
            if key is None and setting.create:
                continue  # planned as skipped: vhdfix creates values, never keys
            value = None if key is None else paths.find_value(key[0], setting.name, f"key {setting.key!r}")
            as_inspected = hive.value(setting.key, setting.name)
            if value is None or paths.cells.value_data(value, f"key {setting.key!r}") != expected:
                self.problems.append(f"{setting.label}: the cell walk does not read the new data")
            elif as_inspected is None or as_inspected.data != expected or \
                    (as_inspected.type_code == REG_DWORD) != isinstance(setting.value, int):
                self.problems.append(f"{setting.label}: inspect's hive reader does not read the new data")


def check_structures(context: WriteContext, expected: Expectations) -> VerificationReport:
    """Check the written copy (``context`` over it, opened afresh) against ``expected``."""
    if context.partition.offset != expected.partition_offset:
        raise VerificationFailed(f"the written copy's Windows volume is at {context.partition.offset}, "
                                 f"the plan's at {expected.partition_offset}")
    checker = _Checker(context, expected)
    try:
        checker.blocks()
        checker.directories()
        checker.side_indexes()
        checker.removed()
        checker.hives()
    except (VhdfixError, FixupError) as exc:
        checker.problems.append(str(exc))
    if checker.problems:
        shown = "; ".join(checker.problems[:10])
        more = f" (and {len(checker.problems) - 10} more)" if len(checker.problems) > 10 else ""
        raise VerificationFailed(f"the written copy failed verification: {shown}{more}; discard it")
    return VerificationReport(len(expected.written_blocks), len(expected.directories), checker.counts["entries"],
                              checker.counts["side_indexes"], checker.counts["side_entries"],
                              len(expected.removed), sum(count for item in expected.removed
                                                         for _, count in item.clusters),
                              len(expected.hives), checker.counts["keys"], checker.counts["values"])


def structures_check(context: WriteContext, plan: WritePlan) -> Check:
    """:func:`check_structures` as a repair's ``writer`` check; it does not apply to a plan that the surgical
    writer did not make (it carries no expectations)."""
    if not isinstance(plan, RepairPlan):
        return Check("writer", None, "the plan was not made by the surgical writer, so its checks do not apply")
    try:
        report = check_structures(context, plan.expectations)
    except VerificationFailed as exc:
        return Check("writer", False, exc.message)
    detail = (f"{report.written_blocks} records/INDX blocks with valid fixups, {report.index_entries} index entries "
              f"in {report.directories} directories and {report.side_index_entries} in {report.side_indexes} "
              f"$ObjId/$Reparse indexes consistent, {report.removed_records} records and "
              f"{report.freed_clusters} clusters free, {report.hives} hive(s) clean with {report.hive_keys} keys "
              f"and {report.hive_values} values walked")
    return Check("writer", True, detail, report.to_json())


def verify_structures(copy_path: str | os.PathLike[str], expected: Expectations) -> VerificationReport:
    """Open a copy patched in place (:func:`vhdfix.writer.apply_patches`) with new readers and check it against
    ``expected``."""
    try:
        disk = open_disk(copy_path)
    except VhdfixError as exc:
        raise VerificationFailed(f"the written copy cannot be read back: {exc.message}") from None
    try:
        return check_structures(context_for(disk), expected)
    except VerificationFailed:
        raise
    except VhdfixError as exc:
        raise VerificationFailed(f"the written copy cannot be read back: {exc.message}") from None
    finally:
        disk.close()
