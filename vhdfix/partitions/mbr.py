"""MBR partition tables, including extended partitions and their chain of EBRs."""

from __future__ import annotations

from collections.abc import Callable

from vhdfix.errors import CorruptPartitionTable
from vhdfix.layout import Record
from vhdfix.partitions.partition import Partition
from vhdfix.partitions.partition_format import (
    EMPTY,
    LEGACY_MBR,
    MBR_SIGNATURE,
    MBR_TYPE_NAMES,
    OS_TYPES_EXTENDED,
)

MAX_LOGICAL_PARTITIONS = 128


def parse_mbr(sector0: bytes) -> Record | None:
    """A ``LEGACY_MBR`` record; None when ``sector0`` is short or has no 0x55AA signature."""
    if len(sector0) < len(LEGACY_MBR):
        return None
    mbr = LEGACY_MBR.parse(sector0)
    return mbr if mbr.signature == MBR_SIGNATURE else None


def _partition(number: int, record: Record, base_lba: int, sector_size: int) -> Partition:
    return Partition(
        number=number,
        scheme="mbr",
        offset=(base_lba + record.starting_lba) * sector_size,
        size=record.size_in_lba * sector_size,
        type=f"0x{record.os_type:02x}",
        type_name=MBR_TYPE_NAMES.get(record.os_type, "unknown"),
        bootable=record.boot_indicator == 0x80,
    )


def mbr_partitions(mbr: Record, read_sector: Callable[[int], bytes], sector_size: int,
                   disk_sectors: int, warnings: list[str]) -> list[Partition]:
    """Primary partitions 1-4, then logical partitions from 5 in EBR-chain order."""
    partitions: list[Partition] = []
    extended: list[Record] = []
    for index, record in enumerate(mbr.partition_record, start=1):
        if record.os_type == EMPTY or record.size_in_lba == 0:
            continue
        if record.starting_lba + record.size_in_lba > disk_sectors:
            warnings.append(f"MBR partition {index} runs past the end of the disk; ignored")
            continue
        if record.os_type in OS_TYPES_EXTENDED:
            extended.append(record)
        else:
            partitions.append(_partition(index, record, 0, sector_size))
    if len(extended) > 1:
        raise CorruptPartitionTable("MBR has more than one extended partition")
    if extended:
        partitions.extend(_logical_partitions(extended[0], read_sector, sector_size, warnings))
    return partitions


def _logical_partitions(extended: Record, read_sector: Callable[[int], bytes],
                        sector_size: int, warnings: list[str]) -> list[Partition]:
    """Walk the EBR chain. Each EBR's first record is a logical partition relative to
    that EBR; its second record links to the next EBR, relative to the extended partition."""
    ext_start, ext_end = extended.starting_lba, extended.starting_lba + extended.size_in_lba
    logical: list[Partition] = []
    seen: set[int] = set()
    ebr_lba = ext_start
    while True:
        if ebr_lba in seen:
            raise CorruptPartitionTable(f"EBR chain loops back to sector {ebr_lba}")
        if len(seen) >= MAX_LOGICAL_PARTITIONS:
            raise CorruptPartitionTable(f"EBR chain longer than {MAX_LOGICAL_PARTITIONS} entries")
        if not ext_start <= ebr_lba < ext_end:
            raise CorruptPartitionTable(f"EBR at sector {ebr_lba} lies outside the extended partition")
        seen.add(ebr_lba)
        ebr = parse_mbr(read_sector(ebr_lba))
        if ebr is None:
            warnings.append(f"EBR at sector {ebr_lba} has no 0x55AA signature; logical partitions end there")
            return logical
        first, link = ebr.partition_record[0], ebr.partition_record[1]
        if first.os_type != EMPTY and first.size_in_lba:
            if ebr_lba + first.starting_lba + first.size_in_lba > ext_end:
                warnings.append(f"logical partition at EBR {ebr_lba} runs past the extended partition; ignored")
            else:
                logical.append(_partition(5 + len(logical), first, ebr_lba, sector_size))
        if link.os_type == EMPTY or link.size_in_lba == 0:
            return logical
        ebr_lba = ext_start + link.starting_lba
