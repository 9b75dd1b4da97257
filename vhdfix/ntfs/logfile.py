"""Classify the NTFS ``$LogFile`` from its two restart pages, without replaying anything.

The rules are ntfs-3g's (write-path.md §5.2): an all-0xFF log is empty; of the
valid restart pages the one with the larger LSN is current; the log is
unclean iff a client is in use and RESTART_VOLUME_IS_CLEAN is not set; a
version 2.0 page means Windows kept metadata in its cache (Fast Startup,
hibernation or no clean unmount).
"""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.layout import Record
from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.ntfs_format import LOGFILE_NO_CLIENT, RESTART_AREA, RESTART_PAGE_HEADER, RESTART_VOLUME_IS_CLEAN

DEFAULT_SYSTEM_PAGE_SIZE = 4096
PROBE_BYTES = 2 * 65536
RESTART_MAGICS = (b"RSTR", b"CHKD")


@dataclass(frozen=True)
class LogFileState:
    status: str  # "empty", "clean", "unclean", "fast-startup", "unknown-version", "invalid"
    version: str = ""  # "1.1", "2.0"
    restart_flags: int = 0
    client_in_use_list: int = LOGFILE_NO_CLIENT
    current_lsn: int = 0
    detail: str = ""

    @property
    def safe_to_write(self) -> bool:
        return self.status in ("empty", "clean")

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "version": self.version, "restart_flags": self.restart_flags,
                "client_in_use_list": self.client_in_use_list, "current_lsn": self.current_lsn,
                "detail": self.detail}


@dataclass(frozen=True)
class _RestartPage:
    magic: bytes
    version: tuple[int, int]
    lsn: int
    area: Record  # RESTART_AREA


def _restart_page(data: bytes, offset: int) -> _RestartPage:
    raw = data[offset:offset + DEFAULT_SYSTEM_PAGE_SIZE]
    if len(raw) < DEFAULT_SYSTEM_PAGE_SIZE or raw[:4] not in RESTART_MAGICS:
        raise FixupError(f"no restart page at offset {offset}")
    header = RESTART_PAGE_HEADER.parse(raw)
    page_size = header.system_page_size
    if page_size < 512 or page_size & (page_size - 1) or offset + page_size > len(data):
        raise FixupError(f"restart page at {offset} has an invalid system page size {page_size}")
    page = apply_fixup(data[offset:offset + page_size], page_size)
    area_at = header.restart_area_offset
    if area_at & 7 or area_at + len(RESTART_AREA) > page_size:
        raise FixupError(f"restart area offset {area_at} is outside the page")
    area = RESTART_AREA.parse(page, area_at)
    lsn = header.chkdsk_lsn if raw[:4] == b"CHKD" else area.current_lsn
    return _RestartPage(raw[:4], (header.major_ver, header.minor_ver), lsn, area)


def classify_logfile(data: bytes) -> LogFileState:
    """``data`` is the start of ``$LogFile`` (at least both restart pages)."""
    if not data:
        return LogFileState("invalid", detail="$LogFile is empty (zero length)")
    if data.count(0xFF) == len(data):
        return LogFileState("empty", detail="log is all 0xFF (wiped, as mkntfs and ntfs-3g leave it)")
    pages: list[_RestartPage] = []
    problems: list[str] = []
    first_size = DEFAULT_SYSTEM_PAGE_SIZE
    if len(data) >= 20 and data[:4] in RESTART_MAGICS:
        first_size = int.from_bytes(data[16:20], "little") or DEFAULT_SYSTEM_PAGE_SIZE
    for offset in dict.fromkeys((0, first_size, DEFAULT_SYSTEM_PAGE_SIZE)):
        try:
            pages.append(_restart_page(data, offset))
        except FixupError as exc:
            problems.append(str(exc))
    if not pages:
        return LogFileState("invalid", detail="no valid restart page: " + "; ".join(problems))
    current = max(pages, key=lambda p: p.lsn)
    version = f"{current.version[0]}.{current.version[1]}"
    area = current.area
    fields = {"version": version, "restart_flags": area.flags, "client_in_use_list": area.client_in_use_list,
              "current_lsn": current.lsn}
    if current.version == (2, 0):
        return LogFileState("fast-startup", **fields,
                            detail="restart page version 2.0: Windows kept metadata in its cache "
                                   "(Fast Startup, hibernation or no clean shutdown)")
    if current.version != (1, 1):
        return LogFileState("unknown-version", **fields, detail=f"restart page version {version}")
    if area.client_in_use_list != LOGFILE_NO_CLIENT and not area.flags & RESTART_VOLUME_IS_CLEAN:
        return LogFileState("unclean", **fields, detail="the volume was not cleanly unmounted; "
                                                        "Windows will replay the log at next mount")
    return LogFileState("clean", **fields)
