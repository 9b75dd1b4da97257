"""Find and read the Boot Configuration Data store: the hive Windows Boot Manager reads at start-up.

Gen1 (BIOS) disks boot from the active partition's ``\\Boot\\BCD`` (the System Reserved NTFS volume); Gen2
(UEFI) disks from ``\\EFI\\Microsoft\\Boot\\BCD`` on the FAT32 EFI system partition (azure-articles.md §8,
LOADING_WINDOWS_FILES row). The hive is read with vhdfix's registry reader, its ``.LOG*`` files replayed
when it is dirty, like every other hive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vhdfix.disk.container import Container
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import HiveCorrupt, InputError
from vhdfix.fat import FatVolume, is_fat_boot_sector
from vhdfix.ntfs import NtfsVolume, volume_kind
from vhdfix.partitions import Partition, PartitionTable
from vhdfix.registry import Hive, open_hive
from vhdfix.windows.hives import HiveReading

NTFS_PATH = "Boot\\BCD"
ESP_PATH = "EFI\\Microsoft\\Boot\\BCD"
NTFS_LOCATION = "System Reserved:\\Boot\\BCD"
ESP_LOCATION = "ESP:\\EFI\\Microsoft\\Boot\\BCD"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"  # UEFI spec, "EFI System Partition" type GUID
MBR_ESP_TYPE = "0xef"
LOG_SUFFIXES = (".LOG", ".LOG1", ".LOG2")
MAX_BCD_BYTES = 16 * 1024 * 1024  # a BCD store is tens of KiB; Windows caps none, this keeps a crafted one cheap

BOOTMGR = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"  # the well-known {bootmgr} object
DEFAULT_OBJECT = "23000003"  # BcdBootMgrObject_DefaultObject
SAFEBOOT = "25000080"  # BcdOSLoaderInteger_SafeBoot: 0 Minimal, 1 Network, 2 DsRepair


@dataclass
class BcdReading:
    """The BCD store found on the disk: where, the parsed hive, or why it could not be read; ``volume`` is the
    file system it was read from, for a writer to patch the file in place."""

    location: str
    partition: Partition
    path: str
    size: int = 0
    hive: Hive | None = None
    error: InputError | None = None
    logs: list[str] = field(default_factory=list)
    volume: NtfsVolume | FatVolume | None = field(default=None, repr=False)

    def as_hive_reading(self) -> HiveReading:
        """The store as the writer and the verifier see every hive, its path naming the partition."""
        return HiveReading("BCD", f"{self.path} (partition {self.partition.number})", self.hive, self.error,
                           list(self.logs))

    @property
    def warnings(self) -> list[str]:
        if self.error is not None:
            return [f"BCD ({self.location}, partition {self.partition.number}): [{self.error.code}] "
                    f"{self.error.message}"]
        assert self.hive is not None
        found = [f"BCD: {warning}" for warning in self.hive.warnings]
        if self.hive.state == "recovered":
            found.insert(0, f"BCD is dirty: {self.hive.entries_applied} transaction-log entries were replayed in "
                            "memory; the values shown are the recovered ones")
        return found


def _open(disk: Container, partition: Partition) -> tuple[str, str, NtfsVolume | FatVolume] | None:
    """(location, path, volume) of the place a BCD may be on ``partition``; None for other file systems."""
    stream = ReadOnlyStream(disk.read, partition.size, base=partition.offset)
    boot = disk.read(partition.offset, 512)
    if volume_kind(boot) == "ntfs":
        return NTFS_LOCATION, NTFS_PATH, NtfsVolume(stream, f"partition {partition.number}")
    if is_fat_boot_sector(boot):
        return ESP_LOCATION, ESP_PATH, FatVolume(stream, f"partition {partition.number}")
    return None


def _candidates(table: PartitionTable) -> list[Partition]:
    """Partitions in the order the firmware would boot from them: the ESP first on GPT, the active one on MBR."""
    def rank(partition: Partition) -> int:
        esp = partition.type.upper() == ESP_TYPE or partition.type.lower() == MBR_ESP_TYPE
        if table.scheme == "gpt":
            return 0 if esp else 1
        return 0 if partition.bootable else 1
    return sorted(table.partitions, key=rank)


def _read_file(volume: NtfsVolume | FatVolume, path: str) -> tuple[bytes, bool] | None:
    if isinstance(volume, NtfsVolume):
        return volume.read_file(path, MAX_BCD_BYTES)
    entry = volume.find(path)
    if entry is None or entry.is_dir:
        return None
    return volume.read(entry, MAX_BCD_BYTES)


def find_bcd(disk: Container, table: PartitionTable) -> tuple[BcdReading | None, list[str]]:
    """The first BCD store in boot order, and warnings for partitions that could not be searched."""
    warnings: list[str] = []
    for partition in _candidates(table):
        try:
            opened = _open(disk, partition)
            found = None if opened is None else _read_file(opened[2], opened[1])
            if opened is None or found is None:
                continue
            location, path, volume = opened
            data, cut = found
            reading = BcdReading(location, partition, path, len(data), volume=volume)
            if cut:
                reading.error = HiveCorrupt(f"{path} is larger than {MAX_BCD_BYTES} bytes")
                return reading, warnings
            logs = []
            for suffix in LOG_SUFFIXES:
                log = _read_file(volume, path + suffix)
                if log is not None and not log[1]:
                    logs.append(("BCD" + suffix, log[0]))
                    reading.logs.append("BCD" + suffix)
            try:
                reading.hive = open_hive("BCD", data, logs)
            except InputError as exc:
                reading.error = exc
            return reading, warnings
        except InputError as exc:
            warnings.append(f"partition {partition.number}: searching for the BCD: [{exc.code}] {exc.message}")
    return None, warnings


def bcd_element(hive: Hive, object_id: str, element: str) -> object:
    """The ``Element`` value of ``Objects\\<object_id>\\Elements\\<element>``, or None."""
    found = hive.value(f"Objects\\{object_id}\\Elements\\{element}", "Element")
    return None if found is None else found.value
