"""The boot configuration store (BCD): found on the disk's partitions and read with its transaction logs.

Gen1 (BIOS) VMs keep it in ``Boot\\BCD`` on the System Reserved NTFS volume
(or on the Windows volume when there is none); Gen2 (UEFI) VMs in
``EFI\\Microsoft\\Boot\\BCD`` on the FAT32 EFI system partition. The BCD is a
registry hive with ``.LOG1``/``.LOG2`` logs beside it, recovered like SYSTEM
(a dirty BCD is read as Windows would replay it).
"""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.disk.container import Container
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import CorruptVolume, InputError
from vhdfix.ntfs import NtfsVolume, volume_kind
from vhdfix.partitions import Partition, PartitionTable
from vhdfix.registry import open_hive
from vhdfix.windows.fat import FatFile, fat_file, is_fat
from vhdfix.windows.hives import LOG_SUFFIXES, MAX_HIVE_BYTES, HiveReading

BCD_NAME = "BCD"
BCD_FILES = ("Boot\\BCD", "EFI\\Microsoft\\Boot\\BCD")  # Gen1 (System Reserved, NTFS), Gen2 (the ESP, FAT32)


@dataclass
class BcdStore:
    """The BCD file of one partition: on NTFS (``ntfs`` set) or FAT32 (``fat`` set, the file's clusters)."""

    partition: Partition
    path: str
    reading: HiveReading
    ntfs: NtfsVolume | None = None
    fat: FatFile | None = None


def _fat_bytes(disk: Container, partition: Partition, found: FatFile) -> bytes:
    data = b"".join(disk.read(partition.offset + at, length) for at, length in found.ranges)
    if len(data) < found.size:
        raise CorruptVolume(f"{found.path}: the file's clusters lie past the disk")
    return data[:found.size]


def _read(name: str, path: str, read: object) -> HiveReading:
    reading = HiveReading(name, path)
    try:
        primary = read(path)  # type: ignore[operator]
        logs = []
        for suffix in LOG_SUFFIXES:
            data = read(path + suffix)  # type: ignore[operator]
            if data is not None:
                logs.append((name + suffix, data))
                reading.logs.append(name + suffix)
        reading.hive = open_hive(name, primary, logs)
    except InputError as exc:
        reading.error = exc
    return reading


def _on_ntfs(disk: Container, partition: Partition) -> BcdStore | None:
    stream = ReadOnlyStream(disk.read, partition.size, base=partition.offset)
    try:
        ntfs = NtfsVolume(stream, f"partition {partition.number}")
        if ntfs.record(BCD_FILES[0]) is None:
            return None
    except CorruptVolume:
        return None

    def read(path: str) -> bytes | None:
        found = ntfs.read_file(path, MAX_HIVE_BYTES)
        return None if found is None else found[0]

    return BcdStore(partition, BCD_FILES[0], _read(BCD_NAME, BCD_FILES[0], read), ntfs=ntfs)


def _on_fat(disk: Container, partition: Partition) -> BcdStore | None:
    stream = ReadOnlyStream(disk.read, partition.size, base=partition.offset)
    label = f"partition {partition.number}"
    try:
        found = fat_file(stream, label, BCD_FILES[1])
    except CorruptVolume:
        return None
    if found is None or found.size > MAX_HIVE_BYTES:
        return None

    def read(path: str) -> bytes | None:
        if path == BCD_FILES[1]:
            return _fat_bytes(disk, partition, found)
        other = fat_file(stream, label, path)
        return None if other is None else _fat_bytes(disk, partition, other)

    return BcdStore(partition, BCD_FILES[1], _read(BCD_NAME, BCD_FILES[1], read), fat=found)


def find_bcd(disk: Container, table: PartitionTable) -> BcdStore | None:
    """The first partition, in table order, holding a BCD: ``Boot\\BCD`` on NTFS or
    ``EFI\\Microsoft\\Boot\\BCD`` on FAT32."""
    for partition in table.partitions:
        boot_sector = disk.read(partition.offset, 512)
        if volume_kind(boot_sector) == "ntfs":
            store = _on_ntfs(disk, partition)
        elif is_fat(boot_sector):
            store = _on_fat(disk, partition)
        else:
            continue
        if store is not None:
            return store
    return None
