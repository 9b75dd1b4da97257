"""regf on-disk structures: primary files, hive bins, the cells vhdfix reads, and transaction logs.

Source: msuhanov/regf, "Windows registry file format specification" (CC BY 4.0),
referred to below as "regf spec, '<section>'". Field names are the spec's, in
snake_case. All numbers are little-endian.
"""

from __future__ import annotations

from dissect.cstruct import cstruct

REGF_DEFINITIONS = """
/* regf spec, 'Base block' (Windows 10 layout). Only the first 512 bytes are declared: they hold
   every field the checksum covers, and they are all that a transaction log keeps of a base block
   (regf spec, 'Sector size and clustering factor'). Bytes 512-4095 are reserved; Boot type (4088)
   and Boot recover (4092) have no meaning on a disk. */
struct base_block {
    char        signature[4];                   /* "regf" */
    uint32      primary_sequence_number;        /* incremented at the start of a write */
    uint32      secondary_sequence_number;      /* incremented at the end of a write */
    uint64      last_written_timestamp;         /* FILETIME (UTC) */
    uint32      major_version;                  /* 1 */
    uint32      minor_version;                  /* 3, 4, 5 or 6 */
    uint32      file_type;                      /* 0 primary, 1 log (old format), 6 log (new format) */
    uint32      file_format;                    /* 1 direct memory load */
    uint32      root_cell_offset;               /* relative to the start of the hive bins data */
    uint32      hive_bins_data_size;
    uint32      clustering_factor;
    char        file_name[64];                  /* UTF-16LE, for debugging only */
    char        rm_id[16];
    char        log_id[16];
    uint32      flags;                          /* 0x1: KTM locked the hive */
    char        tm_id[16];
    char        guid_signature[4];              /* "rmtm" */
    uint64      last_reorganized_timestamp;
    char        reserved[332];
    uint32      checksum;                       /* XOR-32 of bytes 0-507, see base_block.py */
};

/* regf spec, 'Hive bin' */
struct hive_bin_header {
    char        signature[4];                   /* "hbin" */
    uint32      offset;                         /* of this bin, relative to the start of the hive bins data */
    uint32      size;                           /* multiple of 4096 */
    char        reserved[8];
    uint64      timestamp;                      /* first bin only: backup of the last written timestamp */
    uint32      spare;
};

/* regf spec, 'Key node'; cell data after the 4-byte cell size */
struct key_node {
    char        signature[2];                   /* "nk" */
    uint16      flags;                          /* 0x0020 KEY_COMP_NAME: ASCII name */
    uint64      last_written_timestamp;
    uint32      access_bits;
    uint32      parent;
    uint32      number_of_subkeys;
    uint32      number_of_volatile_subkeys;
    uint32      subkeys_list_offset;
    uint32      volatile_subkeys_list_offset;
    uint32      number_of_key_values;
    uint32      key_values_list_offset;
    uint32      key_security_offset;
    uint32      class_name_offset;
    uint32      largest_subkey_name_length;
    uint32      largest_subkey_class_name_length;
    uint32      largest_value_name_length;
    uint32      largest_value_data_size;
    uint32      work_var;
    uint16      key_name_length;
    uint16      class_name_length;
    char        key_name_string[key_name_length];
};

/* regf spec, 'Key value' */
struct key_value {
    char        signature[2];                   /* "vk" */
    uint16      name_length;                    /* 0: the default value */
    uint32      data_size;                      /* MSB set: <= 4 bytes of data stored in data_offset */
    uint32      data_offset;
    uint32      data_type;
    uint16      flags;                          /* 0x0001 VALUE_COMP_NAME: ASCII name */
    uint16      spare;
    char        name[name_length];
};

/* regf spec, 'Big data': data larger than 16344 bytes when the minor version is greater than 3 */
struct big_data {
    char        signature[2];                   /* "db" */
    uint16      number_of_segments;
    uint32      offset_of_list_of_segments;
};

/* regf spec, 'Format of transaction log files' / 'Old format' / 'Dirty vector', at log offset 512;
   followed by a bitmap of (hive bins data size / 512) bits, one per 512-byte page */
struct dirty_vector {
    char        signature[4];                   /* "DIRT" */
};

/* regf spec, 'New format' / 'Log entries'; each entry starts at a multiple of 512 from log offset 512 */
struct log_entry {
    char        signature[4];                   /* "HvLE" */
    uint32      size;                           /* of this entry, a multiple of 512 */
    uint32      flags;                          /* bit 0: copy of base block Flags bit 0 */
    uint32      sequence_number;                /* both base block sequence numbers after this entry */
    uint32      hive_bins_data_size;            /* after this entry; a multiple of 4096 */
    uint32      dirty_pages_count;
    uint64      hash_1;                         /* Marvin32 of bytes 40 .. size of the entry */
    uint64      hash_2;                         /* Marvin32 of bytes 0 .. 32 of the entry */
};

/* regf spec, 'New format' / 'Log entries': the references follow the entry header, then the pages,
   in the same order, without alignment or gaps */
struct dirty_page_reference {
    uint32      offset;                         /* relative to the start of the hive bins data */
    uint32      size;
};
"""

c_regf = cstruct().load(REGF_DEFINITIONS)

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
CHECKSUMMED_SIZE = c_regf.base_block.fields["checksum"].offset
HIVE_BIN_ALIGNMENT = 4096
HIVE_BIN_HEADER_SIZE = len(c_regf.hive_bin_header)
LOG_ENTRY_HEADER_SIZE = len(c_regf.log_entry)
DIRTY_PAGE_REFERENCE_SIZE = len(c_regf.dirty_page_reference)
# regf spec, 'New format' / 'Log entries', note 2: Hash-2 covers the first 32 bytes of an entry.
LOG_ENTRY_HASH_2_COVERAGE = c_regf.log_entry.fields["hash_2"].offset
KEY_VALUE_FIXED_SIZE = c_regf.key_value.fields["name"].offset
KEY_NODE_FIXED_SIZE = c_regf.key_node.fields["key_name_string"].offset

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
