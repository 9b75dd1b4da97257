"""NTFS shutdown state: $LogFile restart pages and update-sequence fixups."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.logfile import classify_logfile

PAGE = 4096


def restart_page(major: int, minor: int, in_use: int, flags: int, lsn: int = 0x1000, magic: bytes = b"RSTR") -> bytes:
    """A restart page as NTFS writes it: header, restart area, and fixups applied over 4096 bytes."""
    page = bytearray(PAGE)
    usa_ofs, usa_count = 0x1E, PAGE // 512 + 1
    struct.pack_into("<4sHHQIIHhh", page, 0, magic, usa_ofs, usa_count, 0, PAGE, PAGE, 0x30, minor, major)
    struct.pack_into("<QHHHH", page, 0x30, lsn, 1, 0xFFFF, in_use, flags)
    usn = b"\x07\x00"
    page[usa_ofs:usa_ofs + 2] = usn
    for stride in range(1, usa_count):
        end = stride * 512
        page[usa_ofs + 2 * stride:usa_ofs + 2 * stride + 2] = page[end - 2:end]
        page[end - 2:end] = usn
    return bytes(page)


def log(page: bytes, second: bytes | None = None) -> bytes:
    return page + (second if second is not None else page) + b"\xff" * PAGE * 2


@pytest.mark.parametrize(("page", "status"), [
    (restart_page(1, 1, 0, 0x2), "clean"),
    (restart_page(1, 1, 0xFFFF, 0), "clean"),
    (restart_page(1, 1, 0, 0), "unclean"),
    (restart_page(2, 0, 0, 0x2), "fast-startup"),
    (restart_page(2, 0, 0xFFFF, 0), "fast-startup"),
    (restart_page(3, 0, 0, 0x2), "unknown-version"),
], ids=["clean-flag", "no-client", "unclean", "v2-clean-flag", "v2", "v3"])
def test_restart_page_rules_match_ntfs_3g(page: bytes, status: str) -> None:
    assert classify_logfile(log(page)).status == status


def test_the_restart_page_with_the_larger_lsn_wins() -> None:
    older_clean = restart_page(1, 1, 0, 0x2, lsn=100)
    newer_unclean = restart_page(1, 1, 0, 0, lsn=200)
    assert classify_logfile(log(older_clean, newer_unclean)).status == "unclean"
    assert classify_logfile(log(newer_unclean, older_clean)).status == "unclean"


def test_a_torn_restart_page_is_skipped_for_its_copy() -> None:
    torn = bytearray(restart_page(1, 1, 0, 0x2))
    torn[1022] ^= 0xFF
    state = classify_logfile(log(bytes(torn), restart_page(1, 1, 0, 0x2)))
    assert state.status == "clean"


def test_no_valid_restart_page_is_invalid() -> None:
    assert classify_logfile(b"\x00" * PAGE * 4).status == "invalid"
    assert not classify_logfile(b"\x00" * PAGE * 4).safe_to_write


def test_all_ff_log_is_empty() -> None:
    state = classify_logfile(b"\xff" * PAGE * 4)
    assert state.status == "empty"
    assert state.safe_to_write


@pytest.mark.parametrize(("name", "status", "version"), [
    ("LogFile_7.bin", "clean", "1.1"),
    ("LogFile_10_downgraded.bin", "clean", "1.1"),
    ("LogFile_10.bin", "fast-startup", "2.0"),
    ("LogFile_10_large.bin", "fast-startup", "2.0"),
    ("LogFile_empty.bin", "empty", ""),
])
def test_real_windows_logfiles(realdata: Path, name: str, status: str, version: str) -> None:
    data = (realdata / "msuhanov+dfir_ntfs" / "test_data" / name).read_bytes()[:2 * 65536]
    state = classify_logfile(data)
    assert (state.status, state.version) == (status, version)


def test_fixup_restores_the_saved_words_and_detects_torn_writes() -> None:
    page = restart_page(1, 1, 0, 0x2)
    fixed = apply_fixup(page, PAGE)
    assert fixed[510:512] == b"\x00\x00" and fixed[0x30:0x38] == struct.pack("<Q", 0x1000)
    torn = bytearray(page)
    torn[2046] ^= 1
    with pytest.raises(FixupError, match="stride 4"):
        apply_fixup(bytes(torn), PAGE)
    with pytest.raises(FixupError):
        apply_fixup(page[:1000], PAGE)
