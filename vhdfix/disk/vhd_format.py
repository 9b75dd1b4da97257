"""VHD on-disk structures.

Microsoft "Virtual Hard Disk Image Format Specification" (October 2006),
sections "Hard Disk Footer Format" and "Dynamic Disk Header Format".
All fields are big-endian.
"""

from __future__ import annotations

from vhdfix.layout import Layout

HARD_DISK_FOOTER = Layout("hard_disk_footer", [
    ("cookie", "8s"),  # "conectix"
    ("features", "I"),
    ("file_format_version", "I"),
    ("data_offset", "Q"),  # 0xFFFFFFFFFFFFFFFF for fixed disks
    ("time_stamp", "I"),
    ("creator_application", "4s"),
    ("creator_version", "I"),
    ("creator_host_os", "4s"),
    ("original_size", "Q"),
    ("current_size", "Q"),
    ("disk_geometry", "I"),
    ("disk_type", "I"),
    ("checksum", "I"),
    ("unique_id", "16s"),
    ("saved_state", "B"),
    ("reserved", "427s"),
], byte_order=">")

PARENT_LOCATOR_ENTRY = Layout("parent_locator_entry", [
    ("platform_code", "4s"),  # "W2ru", "W2ku", ...
    ("platform_data_space", "I"),  # sectors
    ("platform_data_length", "I"),  # bytes
    ("reserved", "I"),
    ("platform_data_offset", "Q"),  # absolute file offset
], byte_order=">")

DYNAMIC_DISK_HEADER = Layout("dynamic_disk_header", [
    ("cookie", "8s"),  # "cxsparse"
    ("data_offset", "Q"),
    ("table_offset", "Q"),
    ("header_version", "I"),
    ("max_table_entries", "I"),
    ("block_size", "I"),
    ("checksum", "I"),
    ("parent_unique_id", "16s"),
    ("parent_time_stamp", "I"),
    ("reserved1", "I"),
    ("parent_unicode_name", "512s"),  # UTF-16 big-endian
    ("parent_locator_entries", (PARENT_LOCATOR_ENTRY, 8)),
    ("reserved2", "256s"),
], byte_order=">")

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
