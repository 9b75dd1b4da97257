"""Recognise a Linux root file system by its superblock magic, for disks that hold no Windows volume.

Three reads of at most 1 KiB per partition. Offsets and values: ext2/3/4 ``s_magic`` 0xEF53 at byte 56 of the
superblock at 1024 (kernel ``ext4.h``, struct ext4_super_block); XFS ``sb_magicnum`` "XFSB" at 0 (XFS
Algorithms & Data Structures, "Superblocks"); Btrfs "_BHRfS_M" at byte 64 of the superblock at 64 KiB
(btrfs documentation, "On-disk format").
"""

from __future__ import annotations

from collections.abc import Callable

from vhdfix.partitions.partition import Partition

EXT_SUPERBLOCK = 1024
EXT_MAGIC_OFFSET = 56
EXT_MAGIC = b"\x53\xef"
XFS_MAGIC = b"XFSB"
BTRFS_SUPERBLOCK = 64 * 1024
BTRFS_MAGIC_OFFSET = 64
BTRFS_MAGIC = b"_BHRfS_M"


def linux_filesystem(read: Callable[[int, int], bytes], partition: Partition) -> str | None:
    """"ext", "xfs" or "btrfs" when ``partition`` starts with that superblock, else None."""
    def at(offset: int, length: int) -> bytes:
        if offset + length > partition.size:
            return b""
        return read(partition.offset + offset, length)

    if at(EXT_SUPERBLOCK + EXT_MAGIC_OFFSET, 2) == EXT_MAGIC:
        return "ext"
    if at(0, 4) == XFS_MAGIC:
        return "xfs"
    if at(BTRFS_SUPERBLOCK + BTRFS_MAGIC_OFFSET, 8) == BTRFS_MAGIC:
        return "btrfs"
    return None
