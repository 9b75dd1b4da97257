"""``bcdedit /store <BCD> /deletevalue <object> <element>`` as byte patches on the BCD hive, in place.

A BCD object is the key ``Objects\\{GUID}``; each of its elements is the
subkey ``Elements\\<type>`` (8 hex digits) holding the value ``Element``.
``{default}`` is the object named by the boot manager's
(``{9dea862c-5cdd-4e70-acc1-f32b344d4795}``) element ``23000003``
(DefaultObject). Deleting an element deletes its key
(:meth:`~vhdfix.writer.hive_edit.HiveEditor.delete_key`); the hive is
committed, and a dirty BCD recovered from its logs or refused, exactly as
SYSTEM (:mod:`vhdfix.writer.hive_plan`).

The hive's bytes change in place, the file's size and clusters do not:
* Gen1: ``Boot\\BCD`` on an NTFS volume, through that volume's ``$DATA`` runs;
* Gen2: ``EFI\\Microsoft\\Boot\\BCD`` on the FAT32 EFI system partition,
  through the file's cluster chain (:meth:`vhdfix.fat.FatVolume.file`); no FAT
  structure (FAT, directory entry) changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vhdfix.diagnosis.actions import BcdElement
from vhdfix.disk.container import Container
from vhdfix.errors import HiveMissing, RefusedUnsafe, ValueNotFound
from vhdfix.fat import FatFile, FatVolume
from vhdfix.ntfs import NtfsVolume
from vhdfix.partitions import Partition
from vhdfix.plan import BytePatch
from vhdfix.registry.regf_format import REG_SZ
from vhdfix.windows.bcd import BOOTMGR, DEFAULT_OBJECT, SAFEBOOT, BcdReading
from vhdfix.writer.hive_plan import EditedHive, HiveStore, KeyDeletion, ntfs_store, plan_hive
from vhdfix.writer.volume_view import StepPatch, VolumeView

ELEMENT_NAMES = {SAFEBOOT: "safeboot"}


@dataclass
class FatHiveStore:
    """A hive file on FAT: read and patched through its clusters, never resized."""

    disk: Container
    partition: Partition
    file: FatFile
    patches: list[StepPatch] = field(default_factory=list)

    @property
    def limit(self) -> int:
        return self.file.size

    def read(self, length: int) -> bytes:
        return b"".join(self.disk.read(self.partition.offset + at, size)
                        for at, size in self.file.volume_ranges(0, length))

    def write(self, offset: int, data: bytes, step: int, reason: str) -> None:
        position = 0
        for at, size in self.file.volume_ranges(offset, len(data)):
            where = self.partition.offset + at
            self.patches.append(StepPatch(step, BytePatch(where, self.disk.read(where, size),
                                                          data[position:position + size],
                                                          f"{self.file.path} on partition "
                                                          f"{self.partition.number}: {reason}")))
            position += size


def _object_guid(store: BcdReading, element: BcdElement) -> str:
    if element.object != "{default}":
        return element.object
    hive = store.hive
    assert hive is not None
    key = f"Objects\\{BOOTMGR}\\Elements\\{DEFAULT_OBJECT}"
    value = hive.value(key, "Element")
    if value is None or value.type_code != REG_SZ or not isinstance(value.value, str):
        raise ValueNotFound(f"{store.path}: the boot manager has no default entry ({key}\\Element), so {{default}} "
                            "names no object; run bcdedit /store ... /enum all in a repair VM")
    return value.value.lower()


def plan_bcd(disk: Container, store: BcdReading | None, elements: Sequence[tuple[int, BcdElement]], when: datetime
             ) -> tuple[EditedHive | None, dict[int, list[str]], list[StepPatch]]:
    """Plan the element deletions on the disk's BCD ``store``: what to verify, notes per step, and the patches."""
    if store is None:
        raise HiveMissing("no BCD on the disk (neither Boot\\BCD on an NTFS volume nor EFI\\Microsoft\\Boot\\BCD "
                          "on a FAT32 EFI system partition)")
    if store.error is not None:
        raise store.error
    if isinstance(store.volume, FatVolume) and store.volume.bits != 32:
        raise RefusedUnsafe(f"{store.path} (partition {store.partition.number}) is on a {store.volume.fat_type} "
                            "volume; vhdfix writes a BCD on a FAT32 EFI system partition only")
    hive = store.hive
    assert hive is not None
    operations = []
    for step, element in elements:
        guid = _object_guid(store, element)
        name = ELEMENT_NAMES.get(element.element, element.element)
        operations.append((step, KeyDeletion(f"Objects\\{guid}\\Elements\\{element.element}",
                                             f"BCD object {guid} ({element.object}) element {element.element} "
                                             f"({name})")))
    views: list[VolumeView] = []
    fat_stores: list[FatHiveStore] = []

    def target() -> HiveStore:
        if isinstance(store.volume, NtfsVolume):
            view = VolumeView(disk, store.partition.offset, store.volume)
            views.append(view)
            return ntfs_store(view, store.volume, store.path)
        assert isinstance(store.volume, FatVolume)
        found = store.volume.file(store.path)
        if found is None:
            raise HiveMissing(f"{store.path} (partition {store.partition.number}) is no longer on the volume")
        fat_stores.append(FatHiveStore(disk, store.partition, found))
        return fat_stores[-1]

    edited, notes = plan_hive(target, store.as_hive_reading(), operations, when, store.partition.offset)
    patches = [patch for view in views for patch in view.patches()]
    patches += [patch for fat_store in fat_stores for patch in fat_store.patches]
    return edited, notes, patches
