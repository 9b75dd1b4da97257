"""FAT on-disk structures (Microsoft "FAT: General Overview of On-Disk Format", fatgen103, §3, §6, §7)."""

from __future__ import annotations

from vhdfix.layout import Layout

# The BIOS parameter block, common part (fatgen103 §3.1), at offset 0 of the volume
BPB = Layout("BPB", [
    ("jump", "3s"),
    ("oem_name", "8s"),
    ("bytes_per_sector", "H"),
    ("sectors_per_cluster", "B"),
    ("reserved_sectors", "H"),
    ("num_fats", "B"),
    ("root_entries", "H"),
    ("total_sectors_16", "H"),
    ("media", "B"),
    ("fat_size_16", "H"),
    ("sectors_per_track", "H"),
    ("num_heads", "H"),
    ("hidden_sectors", "I"),
    ("total_sectors_32", "I"),
])
# The FAT32 extension (fatgen103 §3.3), at offset 36
BPB32 = Layout("BPB32", [
    ("fat_size_32", "I"),
    ("ext_flags", "H"),
    ("fs_version", "H"),
    ("root_cluster", "I"),
])
BPB32_OFFSET = 36

# A short directory entry (fatgen103 §6), 32 bytes
DIR_ENTRY = Layout("DIR_ENTRY", [
    ("name", "11s"),
    ("attributes", "B"),
    ("nt_reserved", "B"),  # 0x08: base name in lower case, 0x10: extension in lower case (Windows NT)
    ("create_tenths", "B"),
    ("create_time", "H"),
    ("create_date", "H"),
    ("access_date", "H"),
    ("first_cluster_high", "H"),
    ("write_time", "H"),
    ("write_date", "H"),
    ("first_cluster_low", "H"),
    ("file_size", "I"),
])
DIR_ENTRY_SIZE = 32

ATTR_VOLUME_ID = 0x08
ATTR_DIRECTORY = 0x10
ATTR_LONG_NAME = 0x0F  # read-only | hidden | system | volume id (fatgen103 §7)
ATTR_LONG_NAME_MASK = 0x3F
LAST_LONG_ENTRY = 0x40
NT_LOWER_BASE = 0x08
NT_LOWER_EXT = 0x10
ENTRY_FREE = 0xE5
ENTRY_END = 0x00
KANJI_E5 = 0x05  # a first name byte of 0x05 stands for 0xE5

# Long-name entry (fatgen103 §7): ordinal at 0, checksum at 13, UTF-16 characters at 1..11, 14..26, 28..32
LONG_NAME_PARTS = ((1, 11), (14, 26), (28, 32))
LONG_NAME_CHECKSUM = 13

# The type follows from the cluster count alone (fatgen103 §3.5)
FAT12_MAX_CLUSTERS = 4084
FAT16_MAX_CLUSTERS = 65524
END_OF_CHAIN = {12: 0xFF8, 16: 0xFFF8, 32: 0x0FFFFFF8}
BAD_CLUSTER = {12: 0xFF7, 16: 0xFFF7, 32: 0x0FFFFFF7}
FAT32_ENTRY_MASK = 0x0FFFFFFF
