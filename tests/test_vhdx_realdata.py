"""Real VHDX files written by other tools (LTRData/DiscUtils test data), read exactly as qemu reads them."""

from __future__ import annotations

import hashlib
import shutil
import struct
from pathlib import Path

import pytest

from tests.conftest import unpack_to
from tests.support.qemu import mismatched_chunks, qemu_img, to_raw
from tests.support.vhdx_builder import crc_zeroed
from vhdfix.disk import open_disk
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import VhdxLogPending

DISCUTILS = "LTRData+DiscUtils/Tests/LibraryTests"
LOG_REPLAY = f"{DISCUTILS}/Vhdx/Data/vhdx-log-replay.vhdx.gz"
IMAGES = ["Btrfs/Data/btrfs.vhdx.gz", "Xfs/Data/xfs.vhdx.gz", "Xfs/Data/xfs5.vhdx.gz", "Swap/Data/swap.vhdx.gz",
          "Lvm/Data/lvm2.vhdx.gz"]


@pytest.mark.realdata
def test_every_discutils_vhdx_is_covered(realdata: Path) -> None:
    found = {str(path.relative_to(realdata / DISCUTILS)) for path in (realdata / DISCUTILS).rglob("*.vhdx.gz")}
    assert found == {*IMAGES, LOG_REPLAY.removeprefix(f"{DISCUTILS}/")}


@pytest.mark.realdata
@pytest.mark.oracle
@pytest.mark.parametrize("image", IMAGES)
def test_discutils_vhdx_equals_qemu(realdata: Path, tmp_path: Path, image: str) -> None:
    path = unpack_to(realdata / DISCUTILS / image, tmp_path)
    raw = to_raw(path, tmp_path / "disk.raw", "vhdx")
    disk = open_disk(path)
    try:
        assert disk.info.format == "vhdx" and disk.info.variant == "dynamic"
        assert disk.info.warnings == []
        assert isinstance(disk, VhdxDisk) and disk.log_replayed_entries == 0
        assert mismatched_chunks(disk.read, disk.virtual_size, raw) == []
    finally:
        disk.close()


@pytest.fixture
def log_replay_file(realdata: Path, tmp_path: Path) -> Path:
    return unpack_to(realdata / LOG_REPLAY, tmp_path)


@pytest.mark.realdata
def test_pending_log_is_replayed_in_memory(log_replay_file: Path) -> None:
    before = hashlib.sha256(log_replay_file.read_bytes()).hexdigest()
    disk = open_disk(log_replay_file)
    try:
        assert isinstance(disk, VhdxDisk)
        assert disk.log_replayed_entries == 2  # the head's Tail leaves 2 of the 5 valid entries to replay
        assert disk.header.log_guid != bytes(16)
        assert any("VHDX log replayed in memory (2 entries)" in warning for warning in disk.info.warnings)
        mbr = disk.read(0, 512)
        assert mbr[510:] == b"\x55\xaa"
        partitions = []
        for index in range(4):
            entry = mbr[446 + 16 * index:462 + 16 * index]
            if entry[4]:
                start, count = struct.unpack_from("<II", entry, 8)
                partitions.append((entry[4], start * 512, count * 512))
        assert partitions == [(0x83, 0x100000, 0x6400000), (0x83, 0x6500000, 0xC800000)]
    finally:
        disk.close()
    assert hashlib.sha256(log_replay_file.read_bytes()).hexdigest() == before


@pytest.mark.realdata
@pytest.mark.oracle
def test_replayed_disk_equals_qemu_repair(log_replay_file: Path, tmp_path: Path) -> None:
    repaired = tmp_path / "repaired.vhdx"
    shutil.copy(log_replay_file, repaired)
    qemu_img("check", "-r", "all", repaired)
    raw = to_raw(repaired, tmp_path / "repaired.raw", "vhdx")
    disk = open_disk(log_replay_file)
    try:
        assert mismatched_chunks(disk.read, disk.virtual_size, raw) == []
        # Without the replay the BAT on disk says nothing is allocated: the overlay is what changed it.
        assert disk.read(0, 512) != bytes(512)
    finally:
        disk.close()


@pytest.mark.realdata
def test_replay_is_refused_when_the_log_is_ambiguous(log_replay_file: Path) -> None:
    """A second copy of the head entry elsewhere in the log makes the active sequence ambiguous."""
    data = bytearray(log_replay_file.read_bytes())
    log = 0x100000
    head = data[log + 0x7000:log + 0x9000]
    data[log + 0x20000:log + 0x22000] = head
    struct.pack_into("<I", data, log + 0x20000 + 12, 0x20000)  # its Tail: itself
    struct.pack_into("<I", data, log + 0x20000 + 4, crc_zeroed(bytes(data[log + 0x20000:log + 0x22000]), 4))
    copy = log_replay_file.with_name("ambiguous.vhdx")
    copy.write_bytes(bytes(data))
    with pytest.raises(VhdxLogPending):
        open_disk(copy)
