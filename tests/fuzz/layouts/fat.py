"""A FAT volume of a seed disk: the boot sector, the first FAT's sectors in use, and the directories on the path
to the BCD (each entry's cluster, size and attributes). FAT has no checksums to reseal."""

from __future__ import annotations

import io

from tests.fuzz.model import Field, Unit, int_fields
from vhdfix.fat import FatEntry, FatVolume

BPB_FIELDS = ((11, 2, "bytes_per_sector"), (13, 1, "sectors_per_cluster"), (14, 2, "reserved_sectors"),
              (16, 1, "num_fats"), (17, 2, "root_entries"), (19, 2, "total_sectors_16"), (22, 2, "fat_size_16"),
              (32, 4, "total_sectors_32"), (36, 4, "fat_size_32"), (44, 4, "root_cluster"))
ENTRY_FIELDS = ((0, 1, "name0"), (11, 1, "attributes"), (12, 1, "nt_flags"), (13, 1, "lfn_checksum"),
                (20, 2, "cluster_high"), (26, 2, "cluster_low"), (28, 4, "file_size"))
MAX_DIRECTORY_BYTES = 4096


class _Stream(io.BytesIO):
    @property
    def size(self) -> int:
        return len(self.getbuffer())

    def slice(self, offset: int, size: int) -> io.BytesIO:
        return io.BytesIO(self.getvalue()[offset:offset + size])


def fat_units(file: str, data: bytes, offset: int, size: int, path: str) -> list[Unit]:
    volume = FatVolume(_Stream(data[offset:offset + size]), "seed")  # type: ignore[arg-type]
    clusters = volume.cluster_count + 2
    hints = {"cluster_high": (0, 0xFFFF), "cluster_low": (0, 1, 2, clusters - 1, clusters, 0xFFF7, 0xFFFF),
             "file_size": (0, 1, 0xFFFFFFFF, volume.cluster_size * clusters), "attributes": (0x10, 0x0F, 0x08, 0x20)}
    units = [Unit("fat.boot", file, ((0, offset, 512),), tuple(int_fields("", 0, BPB_FIELDS)), weight=3)]
    entry_size = volume.bits // 8
    fat_fields = tuple(Field(at, entry_size, f"entry@{at}", hints=(0, 1, 2, clusters, 0x0FFFFFF7, 0x0FFFFFFF))
                       for at in range(0, 512, entry_size)) if volume.bits != 12 else ()
    units.append(Unit("fat.table", file, ((0, offset + volume.fat_offset, 1024),), fat_fields, weight=2))
    directories: list[FatEntry | None] = [None]
    for part in path.split("\\")[:-1]:
        directories.append(next(e for e in volume.list_dir(directories[-1]) if e.name.lower() == part.lower()))
    for depth, directory in enumerate(directories):
        if directory is None and volume.bits != 32:
            at, length = volume.root_offset, volume.root_entries * 32
        else:
            at = volume.cluster_offset(volume.root_cluster if directory is None else directory.first_cluster)
            length = volume.cluster_size
        length = min(length, MAX_DIRECTORY_BYTES)
        fields = [field for index in range(length // 32)
                  for field in int_fields(f"entry{index}.", 32 * index, ENTRY_FIELDS, hints=hints)]
        units.append(Unit(f"fat.directory{depth}", file, ((0, offset + at, length),), tuple(fields), weight=2))
    return units
