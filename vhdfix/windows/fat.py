"""A file on a FAT volume (the Gen2 EFI system partition): its size and where its clusters lie.

dissect.fat finds the file by name (long names included). The file's own
cluster chain is followed here, bounded: the FAT32 entry's low 28 bits
(Microsoft "FAT: General Overview of On-Disk Format", "FAT Data Structure"),
a chain of exactly ceil(size / cluster size) data clusters, each in range and
none twice, ending with an end-of-chain mark. dissect.fat's own chain has no
bound against a loop; a directory lookup runs under the caller's time budget.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from vhdfix.errors import CorruptVolume, foreign_errors

_FAT32_MASK = 0x0FFFFFFF
_END_OF_CHAIN = 0x0FFFFFF8  # and above
_FIRST_DATA_CLUSTER = 2


@dataclass(frozen=True)
class FatFile:
    """``ranges`` are (volume offset, length) of the file's clusters in file order; they hold ``size`` bytes."""

    path: str
    size: int
    cluster_size: int
    ranges: tuple[tuple[int, int], ...]

    def volume_ranges(self, offset: int, length: int) -> list[tuple[int, int]]:
        """Volume (offset, length) pieces of file bytes ``offset..offset + length``."""
        pieces = []
        position = 0
        for at, size in self.ranges:
            lo, hi = max(offset, position), min(offset + length, position + size)
            if lo < hi:
                pieces.append((at + lo - position, hi - lo))
            position += size
        if sum(size for _, size in pieces) != length:
            raise CorruptVolume(f"{self.path}: bytes {offset}..{offset + length} lie outside the file's clusters")
        return pieces


def is_fat(boot_sector: bytes) -> bool:
    """A FAT boot sector: the 0x55AA signature and a FAT file-system type string (FAT32 at 82, FAT12/16 at 54)."""
    return boot_sector[510:512] == b"\x55\xaa" and (boot_sector[82:87] == b"FAT32" or boot_sector[54:57] == b"FAT")


def fat_file(stream: io.RawIOBase, label: str, path: str) -> FatFile | None:
    """``path`` (backslash-separated, any case) on the FAT32 volume read through ``stream``; None when absent."""
    from dissect.fat import exceptions as fat_errors
    from dissect.fat import fat

    with foreign_errors(CorruptVolume, f"{label}: cannot read the FAT volume"):
        filesystem = fat.FATFS(stream)
        if filesystem.type != fat.Fattype.FAT32:
            raise CorruptVolume(f"{label}: a {filesystem.type.name} volume; an EFI system partition is FAT32")
        try:
            entry = filesystem.get(path)
        except (fat_errors.FileNotFoundError, fat_errors.NotADirectoryError):
            return None
        if entry.is_directory():
            return None
        first_cluster, size = entry.cluster, entry.size
        bpb = filesystem.bpb
        fat_offset = bpb.BPB_RsvdSecCnt * filesystem.sector_size
        data_offset = filesystem.first_data_sector * filesystem.sector_size
        total_clusters = (filesystem.total_sectors - filesystem.first_data_sector) // bpb.BPB_SecPerClus
    cluster_size = filesystem.cluster_size
    needed = -(-size // cluster_size)
    clusters: list[int] = []
    cluster = first_cluster
    while len(clusters) < needed:
        if not _FIRST_DATA_CLUSTER <= cluster < total_clusters + _FIRST_DATA_CLUSTER or cluster in clusters:
            raise CorruptVolume(f"{label}: {path}: the cluster chain is broken at cluster {cluster}")
        clusters.append(cluster)
        stream.seek(fat_offset + 4 * cluster)
        entry_bytes = stream.read(4)
        if len(entry_bytes) != 4:
            raise CorruptVolume(f"{label}: {path}: the FAT ends before cluster {cluster}")
        cluster = struct.unpack("<I", entry_bytes)[0] & _FAT32_MASK
    if needed and cluster < _END_OF_CHAIN:
        raise CorruptVolume(f"{label}: {path}: the cluster chain is longer than the file's {size} bytes")
    ranges: list[tuple[int, int]] = []
    for number in clusters:
        at = data_offset + (number - _FIRST_DATA_CLUSTER) * cluster_size
        if ranges and ranges[-1][0] + ranges[-1][1] == at:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + cluster_size)
        else:
            ranges.append((at, cluster_size))
    return FatFile(path, size, cluster_size, tuple(ranges))
