"""MBR and GPT on-disk structures.

MBR: the classic layout (four 16-byte entries at offset 446, signature 0x55AA).
GPT: UEFI Specification 2.10, §5.3.2 "GPT Header" and §5.3.3 "GPT Partition
Entry Array". All fields little-endian.
"""

from __future__ import annotations

from vhdfix.layout import Layout

MBR_PARTITION_RECORD = Layout("mbr_partition_record", [
    ("boot_indicator", "B"),  # 0x80: bootable
    ("starting_chs", "3s"),
    ("os_type", "B"),
    ("ending_chs", "3s"),
    ("starting_lba", "I"),
    ("size_in_lba", "I"),
])

LEGACY_MBR = Layout("legacy_mbr", [
    ("boot_code", "440s"),
    ("unique_mbr_disk_signature", "I"),
    ("unknown", "H"),
    ("partition_record", (MBR_PARTITION_RECORD, 4)),
    ("signature", "H"),  # 0xAA55
])

GPT_HEADER = Layout("gpt_header", [
    ("signature", "8s"),  # "EFI PART"
    ("revision", "I"),
    ("header_size", "I"),
    ("header_crc32", "I"),
    ("reserved", "I"),
    ("my_lba", "Q"),
    ("alternate_lba", "Q"),
    ("first_usable_lba", "Q"),
    ("last_usable_lba", "Q"),
    ("disk_guid", "16s"),
    ("partition_entry_lba", "Q"),
    ("number_of_partition_entries", "I"),
    ("size_of_partition_entry", "I"),
    ("partition_entry_array_crc32", "I"),
])

GPT_PARTITION_ENTRY = Layout("gpt_partition_entry", [
    ("partition_type_guid", "16s"),
    ("unique_partition_guid", "16s"),
    ("starting_lba", "Q"),
    ("ending_lba", "Q"),  # inclusive
    ("attributes", "Q"),
    ("partition_name", "72s"),  # UTF-16LE
])

MBR_SIGNATURE = 0xAA55
GPT_SIGNATURE = b"EFI PART"
GPT_HEADER_MIN_SIZE = 92
OS_TYPE_GPT_PROTECTIVE = 0xEE
OS_TYPES_EXTENDED = {0x05, 0x0F, 0x85}
EMPTY = 0x00

MBR_TYPE_NAMES = {
    0x01: "FAT12",
    0x04: "FAT16 (<32 MiB)",
    0x06: "FAT16",
    0x07: "NTFS/exFAT/HPFS",
    0x0B: "FAT32",
    0x0C: "FAT32 (LBA)",
    0x0E: "FAT16 (LBA)",
    0x27: "Windows RE (hidden NTFS)",
    0x42: "Windows dynamic disk",
    0x82: "Linux swap",
    0x83: "Linux",
    0x8E: "Linux LVM",
    0xEF: "EFI system",
}

GPT_TYPE_NAMES = {
    "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI system partition",
    "e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved partition",
    "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
    "de94bba4-06d1-4d40-a16a-bfd50179d6ac": "Windows recovery environment",
    "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3": "Windows LDM metadata",
    "af9b60a0-1431-4f62-bc68-3311714a69ad": "Windows LDM data",
    "e75caf8f-f680-4cee-afa3-b001e56efc2d": "Windows storage spaces",
    "0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
    "21686148-6449-6e6f-744e-656564454649": "BIOS boot partition",
}
