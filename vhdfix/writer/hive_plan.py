"""Plan the edits of one hive into its file: gates, edits, commit, and the hive file's clusters.

The hive is taken as :func:`vhdfix.windows.hives.load_hive` read it, i.e.
after vhdfix's own log recovery (write-path.md §7):

* ``clean``: the edits go into the primary as it is;
* ``recovered``: the recovered image is written back first - only when it
  fits the file's existing allocated *and* initialised data, else refused -
  and the edits go on top of it (§7.7), so no stale log entry can be replayed
  over them (the commit lifts the sequence numbers above every log entry);
* ``dirty-no-log``: refused; the newest values may exist only in Windows'
  memory or in a log vhdfix could not use.

A hive whose base block has Flags bit 0 ("KTM locked the hive": transactional
registry operations pending *or anticipated*, regf spec 'Base block') is
edited, with a note in the plan: every Windows 10 SYSTEM hive carries that
flag, clean ones included (write-path.md §6.5), and Windows reconciles the
registry transactions of ``config\\TxR`` (CLFS logs) itself at boot. vhdfix
does not parse CLFS, so it cannot tell pending transactions from the
pre-allocated logs every system has; the flag alone is no reason to refuse.

Hive-file offsets are mapped through the file's ``$DATA`` runs (attribute
lists included, via dissect.ntfs) to volume offsets; compressed, sparse or
encrypted hive files are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.diagnosis.actions import ValueName, ValueSetting
from vhdfix.errors import (
    CorruptVolume,
    EncryptedFile,
    HiveDirty,
    HiveMissing,
    HiveRecoveredImageTooLarge,
    TargetCompressed,
    TargetNotAllocated,
    TargetSparse,
    foreign_errors,
)
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.extents import Extents, runs_from_pairs
from vhdfix.ntfs.mft_record import ATTRIBUTE_COMPRESSION_MASK, ATTRIBUTE_ENCRYPTED, ATTRIBUTE_SPARSE
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.regf_format import BASE_BLOCK_FLAG_KTM_LOCKED
from vhdfix.windows.hives import HiveReading
from vhdfix.writer.byte_diff import differing_runs
from vhdfix.writer.hive_edit import HiveEditor
from vhdfix.writer.volume_view import VolumeView

_IN_WINDOWS = "make the change with regedit in Windows (or in a repair VM that loads the hive)"
_BOOT_WINDOWS = "start the VM (or a repair VM with the disk attached) once so that Windows reconciles the hive"


def ktm_note(path: str) -> str:
    return (f"warning: {path}: the base block's KTM flag is set (registry transactions pending or anticipated, as "
            "on every Windows 10 SYSTEM hive); Windows reconciles its registry transactions (config\\TxR) at boot")


@dataclass(frozen=True)
class HiveFile:
    extents: Extents
    data_size: int
    initialized_size: int


@dataclass(frozen=True)
class KeyDeletion:
    """A key (without subkeys) to delete: ``key`` is its path in the hive, ``label`` names it for people."""

    key: str
    label: str


HiveOperation = ValueSetting | ValueName | KeyDeletion


@dataclass(frozen=True)
class EditedHive:
    """What the plan does to one hive; the verifier re-reads the copy against it.

    ``volume`` is None for a hive of the Windows volume (``path`` in it), else the byte offset of the partition
    that holds it (a BCD).
    """

    name: str
    path: str
    sequence: int
    settings: tuple[ValueSetting, ...]
    recovered: bool  # the image recovered from the logs was written back under the edits
    deleted_values: tuple[ValueName, ...] = ()
    deleted_keys: tuple[KeyDeletion, ...] = ()
    volume: int | None = None


class HiveStore(Protocol):
    """Where a hive file's bytes lie, for reading and planned writes."""

    limit: int  # bytes of the file that exist and can be rewritten in place

    def read(self, length: int) -> bytes: ...

    def write(self, offset: int, data: bytes, step: int, reason: str) -> None: ...


@dataclass
class NtfsHiveStore:
    view: VolumeView
    extents: Extents
    limit: int
    path: str

    def read(self, length: int) -> bytes:
        return self.view.file_bytes(self.extents, 0, length, self.path)

    def write(self, offset: int, data: bytes, step: int, reason: str) -> None:
        self.view.write_file_bytes(self.extents, offset, data, self.path, step, reason)


def ntfs_store(view: VolumeView, ntfs: NtfsVolume, path: str) -> NtfsHiveStore:
    target = hive_file(ntfs, path)
    return NtfsHiveStore(view, target.extents, min(target.initialized_size, target.data_size,
                                                   target.extents.mapped_size), path)


def hive_file(ntfs: NtfsVolume, path: str) -> HiveFile:
    """Where the hive file's bytes lie; refuses data that cannot be rewritten in place."""
    record = ntfs.record(path)
    if record is None:
        raise HiveMissing(f"{path} does not exist")
    with foreign_errors(CorruptVolume, f"{path}: cannot map the file's data"):
        attributes = list(record.attributes.find("", ATTRIBUTE_TYPE_CODE.DATA))
        if not attributes or any(a.header.resident for a in attributes):
            raise TargetNotAllocated(f"{path} keeps its data inside its MFT record; a hive is never that small, "
                                     "so the file is not a hive vhdfix can edit; check the disk in Windows")
        for attribute in attributes:
            flags = attribute.header.flags
            if flags & ATTRIBUTE_ENCRYPTED:
                raise EncryptedFile(f"{path} is EFS-encrypted and cannot be edited offline; {_IN_WINDOWS}")
            if flags & ATTRIBUTE_COMPRESSION_MASK:
                raise TargetCompressed(f"{path} is NTFS-compressed; vhdfix edits uncompressed hives only; "
                                       f"{_IN_WINDOWS}")
            if flags & ATTRIBUTE_SPARSE:
                raise TargetSparse(f"{path} is a sparse file; vhdfix edits fully allocated hives only; {_IN_WINDOWS}")
        first = min(attributes, key=lambda a: a.header.lowest_vcn)
        form = first.header.header.Form.Nonresident
        extents = Extents(runs_from_pairs(record.dataruns()), ntfs.cluster_size)
        return HiveFile(extents, form.FileSize, form.ValidDataLength)


def plan_hive(store: Callable[[], HiveStore], reading: HiveReading,
              operations: Sequence[tuple[int, HiveOperation]], when: datetime,
              volume: int | None = None) -> tuple[EditedHive | None, dict[int, list[str]]]:
    """Plan ``operations`` (``(step, operation)``) on one hive into ``store`` (made only when something is
    written); None when nothing needs to change (every value already holds its value, nothing to delete)."""
    if reading.error is not None:
        raise reading.error
    hive = reading.hive
    assert hive is not None
    if hive.state == "dirty-no-log":
        raise HiveDirty(f"{reading.path} is dirty (its last changes are not in the file) and no transaction log "
                        f"could be applied; {_BOOT_WINDOWS}")
    editor = HiveEditor(reading.name, hive.data, when)
    notes: dict[int, list[str]] = {}
    for step, operation in operations:
        if isinstance(operation, ValueSetting):
            note = editor.set_value(operation, step)
        elif isinstance(operation, ValueName):
            note = editor.delete_value(operation, step)
        else:
            note = editor.delete_key(operation.key, operation.label, step)
        if note is not None:
            notes.setdefault(step, []).append(note)
    if not editor.writes:
        return None, notes
    first_step = min(step for step, _ in operations)
    if read_base_block(hive.data).flags & BASE_BLOCK_FLAG_KTM_LOCKED:
        notes.setdefault(first_step, []).append(ktm_note(reading.path))
    sequence = editor.commit(hive.max_sequence, when, first_step)

    target = store()
    limit = target.limit
    if hive.state == "recovered" and len(editor.image) > limit:
        raise HiveRecoveredImageTooLarge(
            f"{reading.path}: the hive recovered from its logs is {len(editor.image)} bytes, the file holds "
            f"{limit}; writing it back would grow the file, which vhdfix does not do; {_BOOT_WINDOWS}")
    if any(write[1] > limit for write in editor.writes):
        raise TargetNotAllocated(f"{reading.path}: an edit lies beyond the file's {limit} bytes of initialised data; "
                                 f"{_IN_WINDOWS}")
    span = min(len(editor.image), limit)
    original = target.read(span)
    applied = [f"{log.name} ({log.entries_applied} entries)" for log in hive.logs if log.status == "applied"]
    recovery = f"write back the hive recovered from {', '.join(applied) or 'its logs'}"
    for start, end in differing_runs(original, editor.image[:span]):
        touching = [w for w in editor.writes if w[0] < end and w[1] > start]
        reasons = [w[3] for w in touching]
        if original[start:end] != hive.data[start:end]:
            reasons.insert(0, recovery)
        step = min((w[2] for w in touching), default=first_step)
        target.write(start, bytes(editor.image[start:end]), step,
                     f"{reading.name} hive: {'; '.join(dict.fromkeys(reasons))}")
    return EditedHive(reading.name, reading.path, sequence,
                      tuple(op for _, op in operations if isinstance(op, ValueSetting)), hive.state == "recovered",
                      tuple(op for _, op in operations if isinstance(op, ValueName)),
                      tuple(op for _, op in operations if isinstance(op, KeyDeletion)), volume), notes
