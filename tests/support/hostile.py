"""The README sample disk taken apart for the hostile-input tests: its Windows volume, records and hives."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from dissect.ntfs import NTFS

from tests.conftest import FIXTURES
from vhdfix.disk import ReadOnlyStream, open_disk
from vhdfix.errors import VhdfixError
from vhdfix.partitions import read_partition_table

SAMPLE = FIXTURES / "provisioning-agent.vhd"
CONFIG = "Windows\\System32\\config"


@cache
def sample_disk() -> tuple[bytes, int, int]:
    """The sample's virtual disk as raw bytes, and the offset and size of its Windows (second) partition."""
    disk = open_disk(SAMPLE)
    try:
        partition = read_partition_table(disk).partitions[1]
        return disk.read(0, disk.virtual_size), partition.offset, partition.size
    finally:
        disk.close()


def windows_volume() -> bytearray:
    data, offset, size = sample_disk()
    return bytearray(data[offset:offset + size])


def stream_of(volume: bytes | bytearray) -> ReadOnlyStream:
    frozen = bytes(volume)
    return ReadOnlyStream(lambda offset, length: frozen[offset:offset + length], len(frozen))


def record_offset(volume: bytes | bytearray, number: int) -> int:
    """Where MFT record ``number`` starts in ``volume`` (the sample's $MFT is one run)."""
    fs = NTFS(io.BytesIO(bytes(volume)))
    (lcn, _), *_ = fs.mft.fh.runlist
    return lcn * fs.cluster_size + number * fs._record_size


def record_number(volume: bytes | bytearray, path: str) -> int:
    return NTFS(io.BytesIO(bytes(volume))).mft.get(path).segment


@cache
def sample_hive(name: str) -> bytes:
    fs = NTFS(io.BytesIO(bytes(windows_volume())))
    return fs.mft.get(f"{CONFIG}\\{name}").open().read()


def read_through(path: Path, chunk: int) -> None:
    """Open ``path`` and read its whole virtual disk, ``chunk`` bytes at a time. A VhdfixError (a refusal) is a
    fine end; any other exception escapes and fails the calling test."""
    try:
        disk = open_disk(path)
    except VhdfixError:
        return
    try:
        for offset in range(0, disk.virtual_size, chunk):
            disk.read(offset, chunk)
    except VhdfixError:
        pass
    finally:
        disk.close()
