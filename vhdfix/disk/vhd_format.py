"""VHD on-disk structures.

Microsoft "Virtual Hard Disk Image Format Specification" (October 2006),
sections "Hard Disk Footer Format" and "Dynamic Disk Header Format".
All fields are big-endian.
"""

from __future__ import annotations

from dissect.cstruct import cstruct

VHD_DEFINITIONS = """
struct hard_disk_footer {
    char        cookie[8];              /* "conectix" */
    uint32      features;
    uint32      file_format_version;
    uint64      data_offset;            /* 0xFFFFFFFFFFFFFFFF for fixed disks */
    uint32      time_stamp;
    char        creator_application[4];
    uint32      creator_version;
    char        creator_host_os[4];
    uint64      original_size;
    uint64      current_size;
    uint32      disk_geometry;
    uint32      disk_type;
    uint32      checksum;
    char        unique_id[16];
    uint8       saved_state;
    char        reserved[427];
};

struct parent_locator_entry {
    char        platform_code[4];       /* "W2ru", "W2ku", ... */
    uint32      platform_data_space;    /* sectors */
    uint32      platform_data_length;   /* bytes */
    uint32      reserved;
    uint64      platform_data_offset;   /* absolute file offset */
};

struct dynamic_disk_header {
    char        cookie[8];              /* "cxsparse" */
    uint64      data_offset;
    uint64      table_offset;
    uint32      header_version;
    uint32      max_table_entries;
    uint32      block_size;
    uint32      checksum;
    char        parent_unique_id[16];
    uint32      parent_time_stamp;
    uint32      reserved1;
    char        parent_unicode_name[512];   /* UTF-16 big-endian */
    parent_locator_entry parent_locator_entries[8];
    char        reserved2[256];
};
"""

c_vhd = cstruct(endian=">").load(VHD_DEFINITIONS)

FOOTER_COOKIE = b"conectix"
DYNAMIC_COOKIE = b"cxsparse"
FOOTER_SIZE = 512
DYNAMIC_HEADER_SIZE = 1024
SECTOR = 512
FIXED_DATA_OFFSET = 0xFFFFFFFFFFFFFFFF
BAT_UNUSED = 0xFFFFFFFF

DISK_TYPE_FIXED = 2
DISK_TYPE_DYNAMIC = 3
DISK_TYPE_DIFFERENCING = 4
DISK_TYPE_NAMES = {DISK_TYPE_FIXED: "fixed", DISK_TYPE_DYNAMIC: "dynamic", DISK_TYPE_DIFFERENCING: "differencing"}

FOOTER_CHECKSUM_OFFSET = 64
DYNAMIC_HEADER_CHECKSUM_OFFSET = 36


def vhd_checksum(structure: bytes, checksum_offset: int) -> int:
    """One's complement of the byte sum, with the checksum field taken as zero."""
    total = sum(structure) - sum(structure[checksum_offset:checksum_offset + 4])
    return ~total & 0xFFFFFFFF
