"""NTFS structures that dissect.ntfs does not declare.

The boot sector, MFT record header, attributes and index structures come from
``dissect.ntfs.c_ntfs`` and are not redeclared here. Field names follow
ntfs-3g's ``layout.h`` / ``logfile.h`` (write-path.md §5.1).
"""

from __future__ import annotations

from vhdfix.layout import Layout

# The value of $Volume's $VOLUME_INFORMATION (0x70)
VOLUME_INFORMATION = Layout("VOLUME_INFORMATION", [
    ("reserved", "Q"),
    ("major_ver", "B"),
    ("minor_ver", "B"),
    ("flags", "H"),  # 0x0001 VOLUME_IS_DIRTY
])

# $LogFile offsets 0 and system_page_size
RESTART_PAGE_HEADER = Layout("RESTART_PAGE_HEADER", [
    ("magic", "4s"),  # "RSTR", or "CHKD" after chkdsk
    ("usa_ofs", "H"),
    ("usa_count", "H"),
    ("chkdsk_lsn", "Q"),
    ("system_page_size", "I"),
    ("log_page_size", "I"),
    ("restart_area_offset", "H"),
    ("minor_ver", "h"),
    ("major_ver", "h"),
])

RESTART_AREA = Layout("RESTART_AREA", [
    ("current_lsn", "Q"),
    ("log_clients", "H"),
    ("client_free_list", "H"),
    ("client_in_use_list", "H"),  # 0xFFFF: no client
    ("flags", "H"),  # 0x0002 RESTART_VOLUME_IS_CLEAN
    ("seq_number_bits", "I"),
    ("restart_area_length", "H"),
    ("client_array_offset", "H"),
    ("file_size", "Q"),
    ("last_lsn_data_length", "I"),
    ("log_record_header_length", "H"),
    ("log_page_data_offset", "H"),
    ("restart_log_open_count", "I"),
])

NTFS_OEM_ID = b"NTFS    "
BITLOCKER_OEM_ID = b"-FVE-FS-"
VOLUME_IS_DIRTY = 0x0001
RESTART_VOLUME_IS_CLEAN = 0x0002
LOGFILE_NO_CLIENT = 0xFFFF
FILE_RECORD_SEGMENT_IN_USE = 0x0001
FIXUP_STRIDE = 512
