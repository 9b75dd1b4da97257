"""VHDX on-disk structures.

Microsoft [MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format". Field names
are the specification's, in snake_case. All fields are little-endian; GUIDs
are stored in the Microsoft mixed-endian layout (``uuid.UUID(bytes_le=...)``).
"""

from __future__ import annotations

from uuid import UUID

from vhdfix.layout import Layout

# §2.2.1 File Type Identifier (at offset 0, 64 KiB reserved)
FILE_IDENTIFIER = Layout("file_identifier", [
    ("signature", "8s"),  # "vhdxfile"
    ("creator", "512s"),  # UTF-16LE
])

# §2.2.2 Headers (4 KiB each, at 64 KiB and 128 KiB)
HEADER = Layout("header", [
    ("signature", "4s"),  # "head"
    ("checksum", "I"),  # CRC-32C over 4 KiB, this field zero
    ("sequence_number", "Q"),
    ("file_write_guid", "16s"),
    ("data_write_guid", "16s"),
    ("log_guid", "16s"),
    ("log_version", "H"),
    ("version", "H"),
    ("log_length", "I"),
    ("log_offset", "Q"),
    ("reserved", "4016s"),
])

# §2.2.3 Region Table (64 KiB each, at 192 KiB and 256 KiB)
REGION_TABLE_HEADER = Layout("region_table_header", [
    ("signature", "4s"),  # "regi"
    ("checksum", "I"),  # CRC-32C over 64 KiB, this field zero
    ("entry_count", "I"),
    ("reserved", "I"),
])

REGION_TABLE_ENTRY = Layout("region_table_entry", [
    ("guid", "16s"),
    ("file_offset", "Q"),
    ("length", "I"),
    ("flags", "I"),  # bit 0: Required
])

# §2.3.1.1 Entry Header
LOG_ENTRY_HEADER = Layout("log_entry_header", [
    ("signature", "4s"),  # "loge"
    ("checksum", "I"),  # CRC-32C over entry_length bytes, this field zero
    ("entry_length", "I"),
    ("tail", "I"),
    ("sequence_number", "Q"),
    ("descriptor_count", "I"),
    ("reserved", "I"),
    ("log_guid", "16s"),
    ("flushed_file_offset", "Q"),
    ("last_file_offset", "Q"),
])

# §2.3.1.2 Zero Descriptor
ZERO_DESCRIPTOR = Layout("zero_descriptor", [
    ("zero_signature", "4s"),  # "zero"
    ("reserved", "I"),
    ("zero_length", "Q"),
    ("file_offset", "Q"),
    ("sequence_number", "Q"),
])

# §2.3.1.3 Data Descriptor: the sector's first 8 and last 4 bytes live here
DATA_DESCRIPTOR = Layout("data_descriptor", [
    ("data_signature", "4s"),  # "desc"
    ("trailing_bytes", "4s"),
    ("leading_bytes", "8s"),
    ("file_offset", "Q"),
    ("sequence_number", "Q"),
])

# §2.3.1.4 Data Sector
DATA_SECTOR = Layout("data_sector", [
    ("data_signature", "4s"),  # "data"
    ("sequence_high", "I"),
    ("data", "4084s"),
    ("sequence_low", "I"),
])

# §2.6.1.1 Metadata Table Header (64 KiB table at the start of the metadata region)
METADATA_TABLE_HEADER = Layout("metadata_table_header", [
    ("signature", "8s"),  # "metadata"
    ("reserved", "H"),
    ("entry_count", "H"),
    ("reserved2", "20s"),
])

# §2.6.1.2 Metadata Table Entry; offset is relative to the metadata region
METADATA_TABLE_ENTRY = Layout("metadata_table_entry", [
    ("item_id", "16s"),
    ("offset", "I"),
    ("length", "I"),
    ("flags", "I"),  # bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired
    ("reserved2", "I"),
])

# §2.6.2.1 File Parameters
FILE_PARAMETERS = Layout("file_parameters", [
    ("block_size", "I"),
    ("flags", "I"),  # bit 0 LeaveBlockAllocated, bit 1 HasParent
])

# §2.6.2.6 Parent Locator: header, then key_value_count entries
PARENT_LOCATOR_HEADER = Layout("parent_locator_header", [
    ("locator_type", "16s"),
    ("reserved", "H"),
    ("key_value_count", "H"),
])

PARENT_LOCATOR_ENTRY = Layout("parent_locator_entry", [
    ("key_offset", "I"),  # relative to the start of the locator item
    ("value_offset", "I"),
    ("key_length", "H"),  # bytes, UTF-16LE
    ("value_length", "H"),
])

KiB = 1024
MiB = 1024 * KiB

# §2.1 Layout: fixed positions inside the 1 MiB header section.
FILE_IDENTIFIER_SIGNATURE = b"vhdxfile"
HEADER_OFFSETS = (64 * KiB, 128 * KiB)
HEADER_SIZE = 4 * KiB
HEADER_SIGNATURE = b"head"
HEADER_CHECKSUM_OFFSET = 4
REGION_TABLE_OFFSETS = (192 * KiB, 256 * KiB)
REGION_TABLE_SIZE = 64 * KiB
REGION_TABLE_SIGNATURE = b"regi"
REGION_TABLE_CHECKSUM_OFFSET = 4
REGION_TABLE_MAX_ENTRIES = 2047
REGION_REQUIRED = 0x1
HEADER_SECTION_SIZE = 1 * MiB
REGION_ALIGNMENT = 1 * MiB

# §2.2.3.2 Known regions.
BAT_REGION_GUID = UUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
METADATA_REGION_GUID = UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")

# §2.6.1 Metadata region.
METADATA_TABLE_SIZE = 64 * KiB
METADATA_TABLE_SIGNATURE = b"metadata"
METADATA_TABLE_MAX_ENTRIES = 2047
METADATA_ITEM_MAX_LENGTH = 1 * MiB
METADATA_IS_REQUIRED = 0x4

# §2.6.2 Known metadata items.
FILE_PARAMETERS_GUID = UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
VIRTUAL_DISK_SIZE_GUID = UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
VIRTUAL_DISK_ID_GUID = UUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
LOGICAL_SECTOR_SIZE_GUID = UUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
PHYSICAL_SECTOR_SIZE_GUID = UUID("CDA348C7-445D-4471-9CC9-E9885251C556")
PARENT_LOCATOR_GUID = UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")

LEAVE_BLOCK_ALLOCATED = 0x1
HAS_PARENT = 0x2
MIN_BLOCK_SIZE = 1 * MiB
MAX_BLOCK_SIZE = 256 * MiB
SECTOR_SIZES = (512, 4096)
MAX_VIRTUAL_DISK_SIZE = 64 * 1024 * 1024 * MiB  # §2.6.2.2: 64 TiB

# §2.6.2.6.1 The VHDX parent locator type and its keys.
VHDX_PARENT_LOCATOR_TYPE = UUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")
PARENT_LOCATOR_HEADER_SIZE = 20
PARENT_LOCATOR_ENTRY_SIZE = 12

# §2.5 BAT: 64-bit entries; state in bits 0-2, FileOffsetMB in bits 20-63.
BAT_ENTRY_SIZE = 8
BAT_STATE_MASK = 0x7
BAT_OFFSET_SHIFT = 20
CHUNK_SECTORS = 1 << 23  # §2.4: sectors described by one 1 MiB sector bitmap block
SECTOR_BITMAP_BLOCK_SIZE = 1 * MiB

# §2.5.1.1 Payload BAT entry states.
PAYLOAD_BLOCK_NOT_PRESENT = 0
PAYLOAD_BLOCK_UNDEFINED = 1
PAYLOAD_BLOCK_ZERO = 2
PAYLOAD_BLOCK_UNMAPPED = 3
PAYLOAD_BLOCK_FULLY_PRESENT = 6
PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7

# §2.5.1.2 Sector bitmap BAT entry states.
SB_BLOCK_NOT_PRESENT = 0
SB_BLOCK_PRESENT = 6

# §2.3 Log: a circular buffer of 4 KiB sectors.
LOG_SECTOR_SIZE = 4 * KiB
LOG_ENTRY_SIGNATURE = b"loge"
LOG_ENTRY_HEADER_SIZE = 64
LOG_ENTRY_CHECKSUM_OFFSET = 4
LOG_DESCRIPTOR_SIZE = 32
ZERO_DESCRIPTOR_SIGNATURE = b"zero"
DATA_DESCRIPTOR_SIGNATURE = b"desc"
DATA_SECTOR_SIGNATURE = b"data"
LOG_VERSION = 0
