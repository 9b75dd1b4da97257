"""A read-only FAT12/16/32 volume: path lookup (long names included), file data, and a file's byte runs.

Every structure is checked before it is used: the boot sector's sizes, each cluster number against the
cluster count, each chain against a visited set and the length the file's size needs, and each directory
against the FAT limit of 65536 entries (fatgen103 §6). A damaged volume raises :class:`CorruptVolume`.
The FAT itself is read one sector at a time as chains need it, so finding one file reads a few sectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.budget import check_time_budget
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import CorruptVolume
from vhdfix.fat.fat_format import (
    ATTR_DIRECTORY,
    ATTR_LONG_NAME,
    ATTR_LONG_NAME_MASK,
    ATTR_VOLUME_ID,
    BAD_CLUSTER,
    BPB,
    BPB32,
    BPB32_OFFSET,
    DIR_ENTRY,
    DIR_ENTRY_SIZE,
    END_OF_CHAIN,
    ENTRY_END,
    ENTRY_FREE,
    FAT12_MAX_CLUSTERS,
    FAT16_MAX_CLUSTERS,
    FAT32_ENTRY_MASK,
    KANJI_E5,
    LAST_LONG_ENTRY,
    LONG_NAME_CHECKSUM,
    LONG_NAME_PARTS,
    NT_LOWER_BASE,
    NT_LOWER_EXT,
)

MAX_DIRECTORY_ENTRIES = 65536  # fatgen103 §6: a directory may not hold more
MAX_PATH_DEPTH = 32
MAX_CLUSTER_BYTES = 64 * 1024  # fatgen103 §3.1: larger clusters are not FAT as Windows formats it


def is_fat_boot_sector(sector: bytes) -> bool:
    """A FAT boot sector: the 0x55AA signature, a jump instruction and a FAT type string."""
    return (len(sector) >= 512 and sector[510:512] == b"\x55\xaa" and sector[0] in (0xEB, 0xE9)
            and (sector[54:57] == b"FAT" or sector[82:87] == b"FAT32"))


@dataclass(frozen=True)
class FatEntry:
    """A file or directory: its name as listed (the long name when there is one), first cluster and size."""

    name: str
    first_cluster: int
    size: int
    is_dir: bool
    short_name: str = ""


def _short_name(raw: bytes, nt_flags: int) -> str:
    base, ext = raw[:8], raw[8:11]
    if base[0] == KANJI_E5:
        base = b"\xe5" + base[1:]
    text_base = base.decode("cp437").rstrip(" ")
    text_ext = ext.decode("cp437").rstrip(" ")
    if nt_flags & NT_LOWER_BASE:
        text_base = text_base.lower()
    if nt_flags & NT_LOWER_EXT:
        text_ext = text_ext.lower()
    return f"{text_base}.{text_ext}" if text_ext else text_base


def _checksum(raw_name: bytes) -> int:
    """The short-name checksum every long-name entry carries (fatgen103 §7)."""
    total = 0
    for byte in raw_name:
        total = (((total & 1) << 7) + (total >> 1) + byte) & 0xFF
    return total


def _long_name_part(entry: bytes) -> str:
    chars = b"".join(entry[start:end] for start, end in LONG_NAME_PARTS).decode("utf-16-le", "replace")
    return chars.split("\0", 1)[0]


@dataclass(frozen=True)
class FatFile:
    """Where a file's bytes lie: ``runs`` are volume (offset, length) pieces in file order holding its ``size``."""

    path: str
    size: int
    runs: tuple[tuple[int, int], ...]

    def volume_ranges(self, offset: int, length: int) -> list[tuple[int, int]]:
        """Volume (offset, length) pieces of the file's bytes ``offset..offset + length``."""
        pieces = []
        position = 0
        for at, size in self.runs:
            low, high = max(offset, position), min(offset + length, position + size)
            if low < high:
                pieces.append((at + low - position, high - low))
            position += size
        if sum(size for _, size in pieces) != length:
            raise CorruptVolume(f"{self.path}: bytes {offset}..{offset + length} lie outside the file")
        return pieces


class FatVolume:
    """A FAT file system on ``stream`` (a partition of the virtual disk)."""

    def __init__(self, stream: ReadOnlyStream, label: str) -> None:
        self.stream = stream
        self.label = label
        boot = stream.slice(0, 512).read(512)
        if not is_fat_boot_sector(boot):
            raise CorruptVolume(f"{label} is not a FAT volume")
        bpb = BPB.parse(boot)
        self.sector_size = bpb.bytes_per_sector
        cluster_sectors = bpb.sectors_per_cluster
        if self.sector_size not in (512, 1024, 2048, 4096) or cluster_sectors not in (1, 2, 4, 8, 16, 32, 64, 128):
            raise CorruptVolume(f"{label}: FAT sector size {self.sector_size} or cluster size {cluster_sectors} "
                                "is not a power of two in range")
        self.cluster_size = self.sector_size * cluster_sectors
        if self.cluster_size > MAX_CLUSTER_BYTES:
            raise CorruptVolume(f"{label}: FAT clusters of {self.cluster_size} bytes")
        total = bpb.total_sectors_16 or bpb.total_sectors_32
        fat_sectors = bpb.fat_size_16 or BPB32.parse(boot, BPB32_OFFSET).fat_size_32
        root_sectors = (bpb.root_entries * DIR_ENTRY_SIZE + self.sector_size - 1) // self.sector_size
        self.fat_offset = bpb.reserved_sectors * self.sector_size
        self.root_offset = self.fat_offset + bpb.num_fats * fat_sectors * self.sector_size
        self.data_offset = self.root_offset + root_sectors * self.sector_size
        if (bpb.reserved_sectors == 0 or bpb.num_fats == 0 or fat_sectors == 0
                or total * self.sector_size > stream.size or self.data_offset >= total * self.sector_size):
            raise CorruptVolume(f"{label}: FAT boot sector sizes do not fit the partition")
        self.cluster_count = (total * self.sector_size - self.data_offset) // self.cluster_size
        self.bits = 12 if self.cluster_count <= FAT12_MAX_CLUSTERS else \
            16 if self.cluster_count <= FAT16_MAX_CLUSTERS else 32
        if self.bits == 32 and bpb.fat_size_16:
            raise CorruptVolume(f"{label}: a FAT32 cluster count with a FAT12/16 FAT size")
        if self.bits * (self.cluster_count + 2) > fat_sectors * self.sector_size * 8:
            raise CorruptVolume(f"{label}: the FAT is too small for {self.cluster_count} clusters")
        self.root_entries = bpb.root_entries
        self.root_cluster = BPB32.parse(boot, BPB32_OFFSET).root_cluster if self.bits == 32 else 0
        self._fat_sectors: dict[int, bytes] = {}

    @property
    def fat_type(self) -> str:
        return f"fat{self.bits}"

    def _fat_bytes(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the first FAT at ``offset``, from cached sectors (a FAT12 entry may span two)."""
        out = b""
        while length > 0:
            sector, within = divmod(offset, self.sector_size)
            if sector not in self._fat_sectors:
                self._fat_sectors[sector] = self.stream.slice(self.fat_offset + sector * self.sector_size,
                                                              self.sector_size).read(self.sector_size)
            piece = self._fat_sectors[sector][within:within + length]
            if not piece:
                raise CorruptVolume(f"{self.label}: the FAT ends early")
            out += piece
            offset += len(piece)
            length -= len(piece)
        return out

    def next_cluster(self, cluster: int) -> int:
        if self.bits == 32:
            return int.from_bytes(self._fat_bytes(cluster * 4, 4), "little") & FAT32_ENTRY_MASK
        if self.bits == 16:
            return int.from_bytes(self._fat_bytes(cluster * 2, 2), "little")
        pair = int.from_bytes(self._fat_bytes(cluster * 3 // 2, 2), "little")
        return pair >> 4 if cluster & 1 else pair & 0xFFF

    def _valid(self, cluster: int) -> bool:
        return 2 <= cluster < self.cluster_count + 2

    def chain(self, first: int, max_clusters: int, what: str) -> list[int]:
        """The clusters from ``first`` to the end-of-chain mark, at most ``max_clusters`` of them."""
        clusters: list[int] = []
        seen: set[int] = set()
        cluster = first
        while len(clusters) < max_clusters:
            if not self._valid(cluster) or cluster in seen:
                raise CorruptVolume(f"{self.label}: {what}: cluster chain reaches {cluster:#x} "
                                    f"({'a loop' if cluster in seen else 'outside the volume'})")
            clusters.append(cluster)
            seen.add(cluster)
            check_time_budget()
            following = self.next_cluster(cluster)
            if following >= END_OF_CHAIN[self.bits]:
                return clusters
            if following == BAD_CLUSTER[self.bits]:
                raise CorruptVolume(f"{self.label}: {what}: chain runs into a bad cluster")
            cluster = following
        return clusters

    def cluster_offset(self, cluster: int) -> int:
        """Byte offset of ``cluster`` in the volume."""
        return self.data_offset + (cluster - 2) * self.cluster_size

    def byte_runs(self, entry: FatEntry) -> list[tuple[int, int]]:
        """Where the file's ``size`` bytes lie in the volume: (offset, length) runs in file order, contiguous
        clusters merged. A chain shorter than the size is an error."""
        if entry.size == 0:
            return []
        needed = (entry.size + self.cluster_size - 1) // self.cluster_size
        clusters = self.chain(entry.first_cluster, needed, entry.name)
        if len(clusters) < needed:
            raise CorruptVolume(f"{self.label}: {entry.name}: {len(clusters)} clusters hold {entry.size} bytes")
        runs: list[tuple[int, int]] = []
        left = entry.size
        for cluster in clusters:
            length = min(left, self.cluster_size)
            offset = self.cluster_offset(cluster)
            if runs and runs[-1][0] + runs[-1][1] == offset:
                runs[-1] = (runs[-1][0], runs[-1][1] + length)
            else:
                runs.append((offset, length))
            left -= length
        return runs

    def file(self, path: str) -> FatFile | None:
        """The file at ``path`` and where its bytes lie; None when absent or a directory."""
        entry = self.find(path)
        if entry is None or entry.is_dir:
            return None
        return FatFile(path, entry.size, tuple(self.byte_runs(entry)))

    def read(self, entry: FatEntry, limit: int) -> tuple[bytes, bool]:
        """Up to ``limit`` bytes of a file, and whether it was cut short."""
        shown = FatEntry(entry.name, entry.first_cluster, min(entry.size, limit), entry.is_dir, entry.short_name)
        data = b"".join(self.stream.slice(offset, length).read(length) for offset, length in self.byte_runs(shown))
        return data, entry.size > limit

    def _directory_data(self, directory: FatEntry | None) -> bytes:
        if directory is None and self.bits != 32:
            return self.stream.slice(self.root_offset, self.root_entries * DIR_ENTRY_SIZE).read(
                self.root_entries * DIR_ENTRY_SIZE)
        first = self.root_cluster if directory is None else directory.first_cluster
        name = "the root directory" if directory is None else directory.name
        max_clusters = -(-MAX_DIRECTORY_ENTRIES * DIR_ENTRY_SIZE // self.cluster_size)
        return b"".join(self.stream.slice(self.cluster_offset(c), self.cluster_size).read(self.cluster_size)
                        for c in self.chain(first, max_clusters, name))

    def list_dir(self, directory: FatEntry | None = None) -> list[FatEntry]:
        """The live entries of ``directory`` (None: the root), without "." and ".." and the volume label."""
        data = self._directory_data(directory)
        entries: list[FatEntry] = []
        long_parts: list[str] = []
        long_checksum = -1
        for at in range(0, len(data) - DIR_ENTRY_SIZE + 1, DIR_ENTRY_SIZE):
            raw = data[at:at + DIR_ENTRY_SIZE]
            if raw[0] == ENTRY_END:
                break
            if raw[0] == ENTRY_FREE:
                long_parts = []
                continue
            if raw[11] & ATTR_LONG_NAME_MASK == ATTR_LONG_NAME:
                if raw[0] & LAST_LONG_ENTRY:
                    long_parts = []
                    long_checksum = raw[LONG_NAME_CHECKSUM]
                long_parts.insert(0, _long_name_part(raw))
                continue
            entry = DIR_ENTRY.parse(raw)
            long_name = "".join(long_parts) if long_parts and long_checksum == _checksum(entry.name) else ""
            long_parts = []
            if entry.attributes & ATTR_VOLUME_ID or entry.name[:1] == b".":
                continue
            short = _short_name(entry.name, entry.nt_reserved)
            first = entry.first_cluster_high << 16 | entry.first_cluster_low if self.bits == 32 \
                else entry.first_cluster_low
            entries.append(FatEntry(long_name or short, first, entry.file_size, bool(entry.attributes & ATTR_DIRECTORY),
                                    short))
        return entries

    def find(self, path: str) -> FatEntry | None:
        """The entry at ``path`` (``\\`` or ``/``, any case, long or short names), or None."""
        parts = [part for part in path.replace("/", "\\").split("\\") if part]
        if len(parts) > MAX_PATH_DEPTH:
            raise CorruptVolume(f"{self.label}: {path} is deeper than {MAX_PATH_DEPTH} levels")
        directory: FatEntry | None = None
        for depth, part in enumerate(parts):
            if directory is not None and not directory.is_dir:
                return None
            wanted = part.casefold()
            found = next((e for e in self.list_dir(directory)
                          if wanted in (e.name.casefold(), e.short_name.casefold())), None)
            if found is None:
                return None
            if found.is_dir and depth < len(parts) - 1 and not self._valid(found.first_cluster):
                raise CorruptVolume(f"{self.label}: directory {found.name} starts at cluster {found.first_cluster}")
            directory = found
        return directory
