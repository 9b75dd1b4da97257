"""What the planner reads: an opened disk, its Windows volume, its hives and its BCD (read once, on demand).

:func:`vhdfix.inspection.inspect` closes the disk when it returns, so the
writer opens the input again, read-only, into a :class:`WriteContext`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from vhdfix.disk import Container, open_disk
from vhdfix.ntfs import NtfsVolume, VolumeState
from vhdfix.partitions import Partition, read_partition_table
from vhdfix.windows import WindowsVolume, find_windows_volume
from vhdfix.windows.bcd import BcdReading, find_bcd
from vhdfix.windows.hives import HiveReading, load_hive

_HIVE_NAME = re.compile(r"[A-Za-z]+")


@dataclass
class WriteContext:
    disk: Container
    partition: Partition
    ntfs: NtfsVolume
    state: VolumeState
    hives_read: dict[str, HiveReading] = field(default_factory=dict)  # by upper-case name
    bcd_read: BcdReading | None = None
    bcd_searched: bool = False

    def hive(self, name: str) -> HiveReading:
        """``Windows\\System32\\config\\<name>`` recovered with its logs, as ``inspect`` reads it."""
        if not _HIVE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not the name of a hive in Windows\\System32\\config")
        key = name.upper()
        if key not in self.hives_read:
            self.hives_read[key] = load_hive(self.ntfs, key)
        return self.hives_read[key]

    def bcd(self) -> BcdReading | None:
        """The disk's boot configuration store (System Reserved or the ESP), as ``inspect`` finds it."""
        if not self.bcd_searched:
            self.bcd_read, _ = find_bcd(self.disk, read_partition_table(self.disk))
            self.bcd_searched = True
        return self.bcd_read

    def close(self) -> None:
        self.disk.close()

    def __enter__(self) -> WriteContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def context_of(disk: Container, windows: WindowsVolume, hives: Sequence[HiveReading] = (),
               bcd: BcdReading | None = None) -> WriteContext:
    """A context over a disk whose Windows volume, and perhaps hives and BCD, the caller has already read."""
    return WriteContext(disk, windows.partition, windows.ntfs, windows.state,
                        {reading.name.upper(): reading for reading in hives}, bcd, bcd is not None)


def context_for(disk: Container) -> WriteContext:
    """A context over an already open disk (closing the context closes the disk)."""
    windows, _ = find_windows_volume(disk, read_partition_table(disk))
    return context_of(disk, windows)


def open_context(path: str | os.PathLike[str], parents: Sequence[str | os.PathLike[str]] = ()) -> WriteContext:
    """Open ``path`` read-only and find its Windows volume (VhdfixError when it cannot)."""
    disk = open_disk(path, parents)
    try:
        return context_for(disk)
    except BaseException:
        disk.close()
        raise
