"""MBR and GPT on-disk structures.

MBR: the classic layout (four 16-byte entries at offset 446, signature 0x55AA).
GPT: UEFI Specification 2.10, §5.3.2 "GPT Header" and §5.3.3 "GPT Partition
Entry Array". All fields little-endian.
"""

from __future__ import annotations

from dissect.cstruct import cstruct

PARTITION_DEFINITIONS = """
struct mbr_partition_record {
    uint8       boot_indicator;
    uint8       starting_chs[3];
    uint8       os_type;
    uint8       ending_chs[3];
    uint32      starting_lba;
    uint32      size_in_lba;
};

struct legacy_mbr {
    char        boot_code[440];
    uint32      unique_mbr_disk_signature;
    uint16      unknown;
    mbr_partition_record partition_record[4];
    uint16      signature;
};

struct gpt_header {
    char        signature[8];           /* "EFI PART" */
    uint32      revision;
    uint32      header_size;
    uint32      header_crc32;
    uint32      reserved;
    uint64      my_lba;
    uint64      alternate_lba;
    uint64      first_usable_lba;
    uint64      last_usable_lba;
    char        disk_guid[16];
    uint64      partition_entry_lba;
    uint32      number_of_partition_entries;
    uint32      size_of_partition_entry;
    uint32      partition_entry_array_crc32;
};

struct gpt_partition_entry {
    char        partition_type_guid[16];
    char        unique_partition_guid[16];
    uint64      starting_lba;
    uint64      ending_lba;             /* inclusive */
    uint64      attributes;
    char        partition_name[72];     /* UTF-16LE */
};
"""

c_partition = cstruct().load(PARTITION_DEFINITIONS)

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
