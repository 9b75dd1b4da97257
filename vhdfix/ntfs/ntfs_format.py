"""NTFS structures that dissect.ntfs does not declare.

The boot sector, MFT record header, attributes and index structures come from
``dissect.ntfs.c_ntfs`` and are not redeclared here. Field names follow
ntfs-3g's ``layout.h`` / ``logfile.h`` (write-path.md §5.1).
"""

from __future__ import annotations

from dissect.cstruct import cstruct

NTFS_DEFINITIONS = """
struct VOLUME_INFORMATION {             /* value of $Volume's $VOLUME_INFORMATION (0x70) */
    uint64      reserved;
    uint8       major_ver;
    uint8       minor_ver;
    uint16      flags;                  /* 0x0001 VOLUME_IS_DIRTY */
};

struct RESTART_PAGE_HEADER {            /* $LogFile offsets 0 and system_page_size */
    char        magic[4];               /* "RSTR", or "CHKD" after chkdsk */
    uint16      usa_ofs;
    uint16      usa_count;
    uint64      chkdsk_lsn;
    uint32      system_page_size;
    uint32      log_page_size;
    uint16      restart_area_offset;
    int16       minor_ver;
    int16       major_ver;
};

struct RESTART_AREA {
    uint64      current_lsn;
    uint16      log_clients;
    uint16      client_free_list;
    uint16      client_in_use_list;     /* 0xFFFF: no client */
    uint16      flags;                  /* 0x0002 RESTART_VOLUME_IS_CLEAN */
    uint32      seq_number_bits;
    uint16      restart_area_length;
    uint16      client_array_offset;
    uint64      file_size;
    uint32      last_lsn_data_length;
    uint16      log_record_header_length;
    uint16      log_page_data_offset;
    uint32      restart_log_open_count;
};
"""

c_ntfs_extra = cstruct().load(NTFS_DEFINITIONS)

NTFS_OEM_ID = b"NTFS    "
BITLOCKER_OEM_ID = b"-FVE-FS-"
VOLUME_IS_DIRTY = 0x0001
RESTART_VOLUME_IS_CLEAN = 0x0002
LOGFILE_NO_CLIENT = 0xFFFF
FILE_RECORD_SEGMENT_IN_USE = 0x0001
FIXUP_STRIDE = 512
