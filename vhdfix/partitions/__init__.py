"""Partitions: MBR (with logical partitions), GPT (with backup fallback), or a bare volume."""

from __future__ import annotations

from vhdfix.disk.container import Container
from vhdfix.errors import NoPartitionTable
from vhdfix.partitions.gpt import has_gpt_signature, read_gpt
from vhdfix.partitions.mbr import mbr_partitions, parse_mbr
from vhdfix.partitions.partition import Partition, PartitionTable
from vhdfix.partitions.partition_format import OS_TYPE_GPT_PROTECTIVE

VOLUME_OEM_IDS = (b"NTFS    ", b"-FVE-FS-")

__all__ = ["Partition", "PartitionTable", "read_partition_table"]


def _is_bare_volume(sector0: bytes) -> bool:
    return sector0[3:11] in VOLUME_OEM_IDS


def read_partition_table(disk: Container) -> PartitionTable:
    warnings: list[str] = []
    if disk.virtual_size < 512:
        raise NoPartitionTable(f"the disk is {disk.virtual_size} bytes, less than one sector")
    sector0 = disk.read(0, 512)
    if _is_bare_volume(sector0):
        bare = Partition(1, "none", 0, disk.virtual_size, "volume", "bare volume (no partition table)")
        return PartitionTable("none", [bare], disk.info.sector_size, warnings=warnings)

    mbr = parse_mbr(sector0)
    protective = mbr is not None and any(r.os_type == OS_TYPE_GPT_PROTECTIVE for r in mbr.partition_record)
    if protective or mbr is None:
        for sector_size in dict.fromkeys((disk.info.sector_size, 512, 4096)):
            if has_gpt_signature(disk.read(sector_size, 8)):
                return _gpt_table(disk, sector_size, warnings)
        # No primary header: a protective MBR or a backup header at the end means a damaged GPT.
        sector_size = disk.info.sector_size
        backup_at = disk.virtual_size - sector_size
        if protective or (backup_at > 0 and has_gpt_signature(disk.read(backup_at, 8))):
            return _gpt_table(disk, sector_size, warnings)
        raise NoPartitionTable("no MBR, GPT or volume boot sector at the start of the disk")

    sector_size = disk.info.sector_size
    partitions = mbr_partitions(mbr, lambda lba: disk.read(lba * sector_size, 512), sector_size,
                                disk.virtual_size // sector_size, warnings)
    return PartitionTable("mbr", partitions, sector_size, f"{mbr.unique_mbr_disk_signature:08x}", warnings)


def _gpt_table(disk: Container, sector_size: int, warnings: list[str]) -> PartitionTable:
    partitions, guid = read_gpt(disk.read, sector_size, disk.virtual_size, warnings)
    return PartitionTable("gpt", partitions, sector_size, guid, warnings)
