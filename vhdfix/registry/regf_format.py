"""regf on-disk structures: primary files, hive bins, the cells vhdfix reads, and transaction logs.

Source: msuhanov/regf, "Windows registry file format specification" (CC BY 4.0),
referred to below as "regf spec, '<section>'". Field names are the spec's, in
snake_case. All numbers are little-endian.
"""

from __future__ import annotations

from vhdfix.layout import Layout

# regf spec, 'Base block' (Windows 10 layout). Only the first 512 bytes are declared: they hold every field the
# checksum covers, and they are all that a transaction log keeps of a base block (regf spec, 'Sector size and
# clustering factor'). Bytes 512-4095 are reserved; Boot type (4088) and Boot recover (4092) have no meaning on a disk.
BASE_BLOCK = Layout("base_block", [
    ("signature", "4s"),  # "regf"
    ("primary_sequence_number", "I"),  # incremented at the start of a write
    ("secondary_sequence_number", "I"),  # incremented at the end of a write
    ("last_written_timestamp", "Q"),  # FILETIME (UTC)
    ("major_version", "I"),  # 1
    ("minor_version", "I"),  # 3, 4, 5 or 6
    ("file_type", "I"),  # 0 primary, 1 log (old format), 6 log (new format)
    ("file_format", "I"),  # 1 direct memory load
    ("root_cell_offset", "I"),  # relative to the start of the hive bins data
    ("hive_bins_data_size", "I"),
    ("clustering_factor", "I"),
    ("file_name", "64s"),  # UTF-16LE, for debugging only
    ("rm_id", "16s"),
    ("log_id", "16s"),
    ("flags", "I"),  # 0x1: KTM locked the hive
    ("tm_id", "16s"),
    ("guid_signature", "4s"),  # "rmtm"
    ("last_reorganized_timestamp", "Q"),
    ("reserved", "332s"),
    ("checksum", "I"),  # XOR-32 of bytes 0-507, see base_block.py
])

# regf spec, 'Hive bin'
HIVE_BIN_HEADER = Layout("hive_bin_header", [
    ("signature", "4s"),  # "hbin"
    ("offset", "I"),  # of this bin, relative to the start of the hive bins data
    ("size", "I"),  # multiple of 4096
    ("reserved", "8s"),
    ("timestamp", "Q"),  # first bin only: backup of the last written timestamp
    ("spare", "I"),
])

# regf spec, 'Key node'; cell data after the 4-byte cell size. The fixed part only: the name (Key name string,
# Key name length bytes) follows it.
KEY_NODE = Layout("key_node", [
    ("signature", "2s"),  # "nk"
    ("flags", "H"),  # 0x0020 KEY_COMP_NAME: ASCII name
    ("last_written_timestamp", "Q"),
    ("access_bits", "I"),
    ("parent", "I"),
    ("number_of_subkeys", "I"),
    ("number_of_volatile_subkeys", "I"),
    ("subkeys_list_offset", "I"),
    ("volatile_subkeys_list_offset", "I"),
    ("number_of_key_values", "I"),
    ("key_values_list_offset", "I"),
    ("key_security_offset", "I"),
    ("class_name_offset", "I"),
    ("largest_subkey_name_length", "I"),
    ("largest_subkey_class_name_length", "I"),
    ("largest_value_name_length", "I"),
    ("largest_value_data_size", "I"),
    ("work_var", "I"),
    ("key_name_length", "H"),
    ("class_name_length", "H"),
])

# regf spec, 'Key value'. The fixed part only: the name (Value name string, Name length bytes) follows it.
KEY_VALUE = Layout("key_value", [
    ("signature", "2s"),  # "vk"
    ("name_length", "H"),  # 0: the default value
    ("data_size", "I"),  # MSB set: <= 4 bytes of data stored in data_offset
    ("data_offset", "I"),
    ("data_type", "I"),
    ("flags", "H"),  # 0x0001 VALUE_COMP_NAME: ASCII name
    ("spare", "H"),
])

# regf spec, 'Big data': data larger than 16344 bytes when the minor version is greater than 3
BIG_DATA = Layout("big_data", [
    ("signature", "2s"),  # "db"
    ("number_of_segments", "H"),
    ("offset_of_list_of_segments", "I"),
])

# regf spec, 'Format of transaction log files' / 'Old format' / 'Dirty vector', at log offset 512; followed by a
# bitmap of (hive bins data size / 512) bits, one per 512-byte page
DIRTY_VECTOR = Layout("dirty_vector", [
    ("signature", "4s"),  # "DIRT"
])

# regf spec, 'New format' / 'Log entries'; each entry starts at a multiple of 512 from log offset 512
LOG_ENTRY = Layout("log_entry", [
    ("signature", "4s"),  # "HvLE"
    ("size", "I"),  # of this entry, a multiple of 512
    ("flags", "I"),  # bit 0: copy of base block Flags bit 0
    ("sequence_number", "I"),  # both base block sequence numbers after this entry
    ("hive_bins_data_size", "I"),  # after this entry; a multiple of 4096
    ("dirty_pages_count", "I"),
    ("hash_1", "Q"),  # Marvin32 of bytes 40 .. size of the entry
    ("hash_2", "Q"),  # Marvin32 of bytes 0 .. 32 of the entry
])

# regf spec, 'New format' / 'Log entries': the references follow the entry header, then the pages, in the same
# order, without alignment or gaps
DIRTY_PAGE_REFERENCE = Layout("dirty_page_reference", [
    ("offset", "I"),  # relative to the start of the hive bins data
    ("size", "I"),
])

REGF_SIGNATURE = b"regf"
HBIN_SIGNATURE = b"hbin"
KEY_NODE_SIGNATURE = b"nk"
KEY_VALUE_SIGNATURE = b"vk"
BIG_DATA_SIGNATURE = b"db"
DIRTY_VECTOR_SIGNATURE = b"DIRT"
LOG_ENTRY_SIGNATURE = b"HvLE"

BASE_BLOCK_SIZE = 4096
# regf spec, 'Sector size and clustering factor': 512 bytes regardless of the disk as of Windows 8.
SECTOR_SIZE = 512
CHECKSUMMED_SIZE = BASE_BLOCK.fields["checksum"].offset
HIVE_BIN_ALIGNMENT = 4096
HIVE_BIN_HEADER_SIZE = len(HIVE_BIN_HEADER)
LOG_ENTRY_HEADER_SIZE = len(LOG_ENTRY)
DIRTY_PAGE_REFERENCE_SIZE = len(DIRTY_PAGE_REFERENCE)
# regf spec, 'New format' / 'Log entries', note 2: Hash-2 covers the first 32 bytes of an entry.
LOG_ENTRY_HASH_2_COVERAGE = LOG_ENTRY.fields["hash_2"].offset
KEY_VALUE_FIXED_SIZE = len(KEY_VALUE)
KEY_NODE_FIXED_SIZE = len(KEY_NODE)

FILE_TYPE_PRIMARY = 0
FILE_TYPE_LOG_OLD = 1
FILE_TYPE_LOG_NEW = 6
BASE_BLOCK_FLAG_KTM_LOCKED = 0x1

VALUE_COMP_NAME = 0x0001
# regf spec, 'Key value' / 'Data size'
DATA_SIZE_INLINE = 0x80000000
# regf spec, 'Big data' / 'Data segment'
BIG_DATA_SEGMENT_SIZE = 16344
BIG_DATA_MIN_MINOR_VERSION = 4

# regf spec, 'Key value' / 'Data types'
REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_DWORD_BIG_ENDIAN = 5
REG_LINK = 6
REG_MULTI_SZ = 7
REG_RESOURCE_LIST = 8
REG_FULL_RESOURCE_DESCRIPTOR = 9
REG_RESOURCE_REQUIREMENTS_LIST = 10
REG_QWORD = 11
REG_TYPE_NAMES = {
    REG_NONE: "REG_NONE",
    REG_SZ: "REG_SZ",
    REG_EXPAND_SZ: "REG_EXPAND_SZ",
    REG_BINARY: "REG_BINARY",
    REG_DWORD: "REG_DWORD",
    REG_DWORD_BIG_ENDIAN: "REG_DWORD_BIG_ENDIAN",
    REG_LINK: "REG_LINK",
    REG_MULTI_SZ: "REG_MULTI_SZ",
    REG_RESOURCE_LIST: "REG_RESOURCE_LIST",
    REG_FULL_RESOURCE_DESCRIPTOR: "REG_FULL_RESOURCE_DESCRIPTOR",
    REG_RESOURCE_REQUIREMENTS_LIST: "REG_RESOURCE_REQUIREMENTS_LIST",
    REG_QWORD: "REG_QWORD",
}
