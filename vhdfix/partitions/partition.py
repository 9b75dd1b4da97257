"""A partition found on a virtual disk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based; MBR logical partitions are numbered from 5, as Windows and Linux do
    scheme: str  # "mbr", "gpt" or "none" (a bare volume)
    offset: int  # bytes from the start of the virtual disk
    size: int  # bytes
    type: str  # "0x07" for MBR, the type GUID for GPT
    type_name: str
    name: str = ""
    bootable: bool = False
    guid: str = ""

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "scheme": self.scheme, "offset": self.offset, "size": self.size,
                "type": self.type, "type_name": self.type_name, "name": self.name,
                "bootable": self.bootable, "guid": self.guid}


@dataclass
class PartitionTable:
    scheme: str  # "mbr", "gpt", "none"
    partitions: list[Partition]
    sector_size: int
    disk_id: str = ""
    warnings: list[str] | None = None

    def to_json(self) -> dict[str, object]:
        return {"scheme": self.scheme, "sector_size": self.sector_size, "disk_id": self.disk_id,
                "partitions": [p.to_json() for p in self.partitions]}
