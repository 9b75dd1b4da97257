"""Partition tables: MBR with logical partitions, GPT with CRCs and backup, bare volumes."""

from __future__ import annotations

import struct
import tarfile
import zlib
from pathlib import Path

import pytest

from tests.conftest import unpack_to
from vhdfix.disk import open_disk
from vhdfix.errors import CorruptPartitionTable, NoPartitionTable, VhdfixError
from vhdfix.partitions import PartitionTable, read_partition_table

DFIR_NTFS = "msuhanov+dfir_ntfs/test_data"


def _table(path: Path) -> PartitionTable:
    disk = open_disk(path)
    try:
        return read_partition_table(disk)
    finally:
        disk.close()


def _sectors(table: PartitionTable) -> list[tuple[int, int, int, str]]:
    return [(p.number, p.offset // 512, p.size // 512, p.type) for p in table.partitions]


def test_real_gpt_with_exact_sizes(realdata: Path, tmp_path: Path) -> None:
    table = _table(unpack_to(realdata / DFIR_NTFS / "gpt-512-3p.raw.gz", tmp_path))
    assert table.scheme == "gpt"
    assert table.disk_id == "4a57f82f-3b54-45b7-9135-c1d4a9addf69"
    assert _sectors(table) == [  # as sfdisk -d reports them
        (1, 34, 31, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
        (2, 65, 64, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
        (3, 129, 1886, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
    ]
    assert table.partitions[2].name == "EFI System"
    assert table.partitions[2].type_name == "EFI system partition"
    assert not table.warnings


def test_real_mbr_with_logical_partitions(realdata: Path, tmp_path: Path) -> None:
    table = _table(unpack_to(realdata / DFIR_NTFS / "mbr-512-p1e2.bin.gz", tmp_path))
    assert table.scheme == "mbr"
    assert _sectors(table) == [(2, 1025, 1023, "0x83"), (5, 2, 511, "0x83"), (6, 514, 511, "0x83")]


def test_real_windows_made_mbr_disk(realdata: Path, tmp_path: Path) -> None:
    with tarfile.open(realdata / DFIR_NTFS / "mbr-win-512.raw.tgz") as archive:
        archive.extractall(tmp_path, filter="data")
    table = _table(tmp_path / "mbr-win-512.raw")
    assert [(n, start, size) for n, start, size, _ in _sectors(table)] == [
        (1, 128, 16384), (2, 16512, 16384), (3, 32896, 16384),
        (5, 49408, 16384), (6, 65920, 16384), (7, 82432, 16384), (8, 98944, 417792),
    ]


def _corrupt(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_primary_gpt_header_uses_the_backup(realdata: Path, tmp_path: Path) -> None:
    path = unpack_to(realdata / DFIR_NTFS / "gpt-512-3p.raw.gz", tmp_path)
    _corrupt(path, 512 + 40)  # first_usable_lba: header CRC no longer matches
    table = _table(path)
    assert len(table.partitions) == 3
    assert any("primary GPT is damaged (header CRC32 mismatch)" in w for w in table.warnings)


def test_damaged_primary_entry_array_uses_the_backup(realdata: Path, tmp_path: Path) -> None:
    path = unpack_to(realdata / DFIR_NTFS / "gpt-512-3p.raw.gz", tmp_path)
    _corrupt(path, 1024 + 56)  # a byte of the first entry's name
    table = _table(path)
    assert table.partitions[0].name == "Linux filesystem"
    assert any("partition entry array CRC32 mismatch" in w for w in table.warnings)


def test_gpt_with_both_copies_bad_is_a_checksum_error(realdata: Path, tmp_path: Path) -> None:
    path = unpack_to(realdata / DFIR_NTFS / "gpt-512-3p.raw.gz", tmp_path)
    size = path.stat().st_size
    _corrupt(path, 512 + 40)
    _corrupt(path, size - 512 + 40)
    with pytest.raises(VhdfixError) as caught:
        _table(path)
    assert caught.value.code == "bad-checksum"


def _mbr(entries: list[tuple[int, int, int]]) -> bytearray:
    sector = bytearray(512)
    for index, (os_type, start, count) in enumerate(entries):
        struct.pack_into("<B3sB3sII", sector, 446 + 16 * index, 0, b"", os_type, b"", start, count)
    sector[510:512] = b"\x55\xaa"
    return sector


def test_ebr_chain_that_loops_is_refused(tmp_path: Path) -> None:
    disk = bytearray(4 * 1024 * 1024)
    disk[0:512] = _mbr([(0x07, 2048, 2048), (0x05, 4096, 4096)])
    disk[4096 * 512:4097 * 512] = _mbr([(0x07, 63, 100), (0x05, 0, 4096)])  # links back to itself
    (tmp_path / "loop.raw").write_bytes(bytes(disk))
    with pytest.raises(CorruptPartitionTable, match="loops"):
        _table(tmp_path / "loop.raw")


def test_partition_past_the_end_of_the_disk_is_ignored_with_a_warning(tmp_path: Path) -> None:
    disk = bytearray(2 * 1024 * 1024)
    disk[0:512] = _mbr([(0x07, 2048, 4096), (0x07, 2048, 100)])
    (tmp_path / "big.raw").write_bytes(bytes(disk))
    table = _table(tmp_path / "big.raw")
    assert [p.number for p in table.partitions] == [2]
    assert any("past the end" in w for w in table.warnings)


def test_zeroed_disk_has_no_partition_table(tmp_path: Path) -> None:
    (tmp_path / "zero.raw").write_bytes(bytes(1024 * 1024))
    with pytest.raises(NoPartitionTable):
        _table(tmp_path / "zero.raw")


def test_bare_ntfs_boot_sector_is_a_volume_without_table(tmp_path: Path) -> None:
    disk = bytearray(1024 * 1024)
    disk[3:11] = b"NTFS    "
    disk[510:512] = b"\x55\xaa"
    (tmp_path / "vol.raw").write_bytes(bytes(disk))
    table = _table(tmp_path / "vol.raw")
    assert table.scheme == "none"
    assert [(p.offset, p.size) for p in table.partitions] == [(0, 1024 * 1024)]


def test_protective_mbr_without_any_gpt_header(tmp_path: Path) -> None:
    disk = bytearray(1024 * 1024)
    disk[0:512] = _mbr([(0xEE, 1, 2047)])
    (tmp_path / "pmbr.raw").write_bytes(bytes(disk))
    with pytest.raises(CorruptPartitionTable, match="GPT unusable"):
        _table(tmp_path / "pmbr.raw")


def test_crc32_is_the_uefi_one() -> None:
    assert zlib.crc32(b"123456789") == 0xCBF43926
