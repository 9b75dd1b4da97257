"""Plan the value edits of one hive into the volume: gates, edits, commit, and the hive file's clusters.

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
registry operations pending or anticipated, regf spec 'Base block') is
refused unless the caller accepts it. That flag is the only KTM signal vhdfix
checks: the TxR logs (``config\\TxR\\*.regtrans-ms``/``.blf``) are CLFS
files that exist, pre-allocated, on every Windows system, and vhdfix does not
parse CLFS, so their presence says nothing and their content is not read.

Hive-file offsets are mapped through the file's ``$DATA`` runs (attribute
lists included, via dissect.ntfs) to volume offsets; compressed, sparse or
encrypted hive files are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.diagnosis.actions import ValueSetting
from vhdfix.errors import (
    CorruptVolume,
    EncryptedFile,
    HiveDirty,
    HiveMissing,
    HiveRecoveredImageTooLarge,
    HiveTransactionsPending,
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


@dataclass(frozen=True)
class HiveFile:
    extents: Extents
    data_size: int
    initialized_size: int


@dataclass(frozen=True)
class EditedHive:
    """What the plan does to one hive; the verifier re-reads the copy against it."""

    name: str
    path: str
    sequence: int
    settings: tuple[ValueSetting, ...]
    recovered: bool  # the image recovered from the logs was written back under the edits


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


def plan_hive(view: VolumeView, ntfs: NtfsVolume, reading: HiveReading,
              settings: Sequence[tuple[int, ValueSetting]], when: datetime,
              allow_ktm_locked: bool) -> tuple[EditedHive | None, dict[int, list[str]]]:
    """Plan ``settings`` (``(step, setting)``) into ``view``; None when every value already holds its value."""
    if reading.error is not None:
        raise reading.error
    hive = reading.hive
    assert hive is not None
    if hive.state == "dirty-no-log":
        raise HiveDirty(f"{reading.path} is dirty (its last changes are not in the file) and no transaction log "
                        f"could be applied; {_BOOT_WINDOWS}")
    if read_base_block(hive.data).flags & BASE_BLOCK_FLAG_KTM_LOCKED and not allow_ktm_locked:
        raise HiveTransactionsPending(f"{reading.path}: the Kernel Transaction Manager locked the hive "
                                      "(transactions pending); " + _BOOT_WINDOWS)
    editor = HiveEditor(reading.name, hive.data)
    notes: dict[int, list[str]] = {}
    for step, setting in settings:
        note = editor.set_value(setting, step)
        if note is not None:
            notes.setdefault(step, []).append(note)
    if not editor.writes:
        return None, notes
    first_step = min(step for step, _ in settings)
    sequence = editor.commit(hive.max_sequence, when, first_step)

    target = hive_file(ntfs, reading.path)
    limit = min(target.initialized_size, target.data_size, target.extents.mapped_size)
    if hive.state == "recovered" and len(editor.image) > limit:
        raise HiveRecoveredImageTooLarge(
            f"{reading.path}: the hive recovered from its logs is {len(editor.image)} bytes, the file holds "
            f"{limit}; writing it back would grow the file, which vhdfix does not do; {_BOOT_WINDOWS}")
    if any(write[1] > limit for write in editor.writes):
        raise TargetNotAllocated(f"{reading.path}: an edit lies beyond the file's {limit} bytes of initialised data; "
                                 f"{_IN_WINDOWS}")
    span = min(len(editor.image), limit)
    original = view.file_bytes(target.extents, 0, span, reading.path)
    applied = [f"{log.name} ({log.entries_applied} entries)" for log in hive.logs if log.status == "applied"]
    recovery = f"write back the hive recovered from {', '.join(applied) or 'its logs'}"
    for start, end in differing_runs(original, editor.image[:span]):
        touching = [w for w in editor.writes if w[0] < end and w[1] > start]
        reasons = [w[3] for w in touching]
        if original[start:end] != hive.data[start:end]:
            reasons.insert(0, recovery)
        step = min((w[2] for w in touching), default=first_step)
        view.write_file_bytes(target.extents, start, bytes(editor.image[start:end]), reading.path, step,
                              f"{reading.name} hive: {'; '.join(dict.fromkeys(reasons))}")
    return EditedHive(reading.name, reading.path, sequence, tuple(s for _, s in settings),
                      hive.state == "recovered"), notes
