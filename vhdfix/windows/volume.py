"""Find the Windows volume among a disk's partitions."""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.disk.container import Container
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import CorruptVolume, EncryptedVolume, NoWindowsVolume
from vhdfix.ntfs import NtfsVolume, VolumeState, read_volume_state, volume_kind
from vhdfix.partitions import Partition, PartitionTable

SYSTEM_HIVE = "Windows\\System32\\config\\SYSTEM"


@dataclass(frozen=True)
class VolumeSurvey:
    """What one partition holds, as far as choosing the Windows volume goes."""

    partition: Partition
    filesystem: str  # "ntfs", "bitlocker", "other"
    has_windows: bool
    problem: str = ""

    def to_json(self) -> dict[str, object]:
        return {"number": self.partition.number, "filesystem": self.filesystem,
                "has_windows": self.has_windows, "problem": self.problem}


@dataclass
class WindowsVolume:
    partition: Partition
    ntfs: NtfsVolume
    state: VolumeState

    def to_json(self) -> dict[str, object]:
        return {"partition": self.partition.number, "offset": self.partition.offset, "size": self.partition.size,
                "serial": self.ntfs.serial, "cluster_size": self.ntfs.cluster_size, **self.state.to_json()}


def _survey(disk: Container, partition: Partition) -> tuple[VolumeSurvey, NtfsVolume | None]:
    stream = ReadOnlyStream(disk.read, partition.size, base=partition.offset,
                            prefetch=disk.prefetch if disk.takes_hints else None)
    kind = volume_kind(disk.read(partition.offset, 512))
    if kind != "ntfs":
        return VolumeSurvey(partition, kind, False), None
    try:
        ntfs = NtfsVolume(stream, f"partition {partition.number}")
        has_windows = ntfs.record(SYSTEM_HIVE) is not None
    except CorruptVolume as exc:
        return VolumeSurvey(partition, kind, False, exc.message), None
    return VolumeSurvey(partition, kind, has_windows), ntfs if has_windows else None


def find_windows_volume(disk: Container, table: PartitionTable) -> tuple[WindowsVolume, list[VolumeSurvey]]:
    """The NTFS volume holding ``Windows\\System32\\config\\SYSTEM``, and a survey of every partition."""
    surveys: list[VolumeSurvey] = []
    found: tuple[Partition, NtfsVolume] | None = None
    disk.prefetch([(partition.offset, 512) for partition in table.partitions])  # boot sectors: independent reads
    for partition in table.partitions:
        survey, ntfs = _survey(disk, partition)
        surveys.append(survey)
        if ntfs is not None and found is None:
            found = (partition, ntfs)
    if found is None:
        if any(s.filesystem == "bitlocker" for s in surveys):
            raise EncryptedVolume("the only candidate Windows volume is BitLocker-encrypted; "
                                  "unlock or decrypt it before inspection")
        broken = [f"partition {s.partition.number}: {s.problem}" for s in surveys if s.problem]
        detail = f" ({'; '.join(broken)})" if broken else ""
        raise NoWindowsVolume(f"no NTFS volume with {SYSTEM_HIVE} among {len(surveys)} partition(s){detail}")
    partition, ntfs = found
    return WindowsVolume(partition, ntfs, read_volume_state(ntfs)), surveys
