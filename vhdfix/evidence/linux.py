"""Evidence for a disk with no Windows volume: a Linux root file system, for the GRUB articles."""

from __future__ import annotations

from vhdfix.disk.container import Container
from vhdfix.evidence.model import EvidenceSet, FileEvidence
from vhdfix.partitions import PartitionTable
from vhdfix.partitions.linux import linux_filesystem

NAMES = {"ext": "ext2/3/4", "xfs": "XFS", "btrfs": "Btrfs"}


def linux_evidence(disk: Container, table: PartitionTable) -> EvidenceSet | None:
    """``linux.root = true`` with each partition holding a Linux file system, or None when none does."""
    evidence = EvidenceSet()
    for partition in table.partitions:
        kind = linux_filesystem(disk.read, partition)
        if kind is not None:
            evidence.add(FileEvidence("linux.root", f"partition {partition.number}", partition.size,
                                      note=f"{NAMES[kind]} superblock: a Linux file system, no Windows volume"))
    if not evidence.items:
        return None
    evidence.set("linux.root", True)
    return evidence
