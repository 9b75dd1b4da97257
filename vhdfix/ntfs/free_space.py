"""Free space of an NTFS volume, counted in ``$Bitmap`` (MFT record 6) as Windows counts it.

``$Bitmap``'s data has one bit per cluster, set when the cluster is in use (NTFS documentation, "$Bitmap";
write-path.md §3). The volume has ``NumberSectors / SectorsPerCluster`` clusters; bits past the last cluster
are padding. The bitmap is read in chunks of :data:`CHUNK` bytes, so a 2 TiB volume (64 MiB of bitmap) is
counted in bounded memory; a 127 GiB volume with 4 KiB clusters has a 4 MiB bitmap.
"""

from __future__ import annotations

from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.budget import check_time_budget
from vhdfix.errors import CorruptVolume, foreign_errors
from vhdfix.ntfs.bounds import check_stream
from vhdfix.ntfs.volume import NtfsVolume

BITMAP_RECORD = 6
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FreeSpace:
    cluster_size: int
    clusters: int
    free_clusters: int
    bitmap_bytes: int  # what was read

    @property
    def size_bytes(self) -> int:
        return self.clusters * self.cluster_size

    @property
    def free_bytes(self) -> int:
        return self.free_clusters * self.cluster_size

    @property
    def free_percent(self) -> float:
        return round(100 * self.free_clusters / self.clusters, 2) if self.clusters else 0.0


def _sectors_per_cluster(raw: int) -> int:
    return 1 << -(raw - 256) if raw > 0x80 else raw


def free_space(volume: NtfsVolume) -> FreeSpace:
    """Count the clear bits of ``$Bitmap`` over the volume's clusters."""
    boot = volume.boot_sector
    clusters = boot.NumberSectors // _sectors_per_cluster(boot.Bpb.SectorsPerCluster)
    needed = (clusters + 7) // 8
    rec = volume.record(BITMAP_RECORD)
    where = f"{volume.label}: $Bitmap"
    with foreign_errors(CorruptVolume, where):
        if rec is None or not rec.has_stream(""):
            raise CorruptVolume(f"{where} (record {BITMAP_RECORD}) is not in use or has no data")
        check_stream(rec.attributes.find("", ATTRIBUTE_TYPE_CODE.DATA), volume.cluster_size, volume.stream.size,
                     where)
        if rec.size() < needed:
            raise CorruptVolume(f"{where} holds {rec.size()} bytes, fewer than the {needed} its "
                                f"{clusters} clusters need")
        stream = rec.open()
        used = 0
        done = 0
        while done < needed:
            chunk = stream.read(min(CHUNK, needed - done))
            if not chunk:
                raise CorruptVolume(f"{where} ends after {done} bytes")
            if done + len(chunk) == needed and clusters % 8:
                chunk = chunk[:-1] + bytes([chunk[-1] & ((1 << clusters % 8) - 1)])  # padding bits past the end
            used += int.from_bytes(chunk, "little").bit_count()
            done += len(chunk)
            check_time_budget()
    return FreeSpace(volume.cluster_size, clusters, clusters - used, needed)
