"""Crafted NTFS structures: checked before dissect.ntfs sees them, and walked with bounds by vhdfix.

Each test that pins a dissect.ntfs defect (KNOWN_ISSUES.md) shows the library
misbehaving on the same input that vhdfix refuses.
"""

from __future__ import annotations

import io
import struct
import tracemalloc

import pytest
from dissect.ntfs import NTFS
from dissect.ntfs.attr import Attribute, AttributeHeader
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE
from dissect.ntfs.mft import MftRecord
from dissect.ntfs.stream import CompressedRunlistStream
from dissect.ntfs.util import AttributeCollection

from tests.support.hostile import record_number, record_offset, stream_of, windows_volume
from vhdfix.disk import ReadOnlyStream
from vhdfix.errors import CorruptVolume
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.bounds import check_stream
from vhdfix.ntfs.directory import DirectoryIndex
from vhdfix.ntfs.fixup_write import protect

MiB = 1024 * 1024


def _volume_with(edits: dict[int, bytes]) -> bytearray:
    volume = windows_volume()
    for offset, data in edits.items():
        volume[offset:offset + len(data)] = data
    return volume


@pytest.mark.parametrize(("offset", "value", "problem"), [
    (0x0B, struct.pack("<H", 256), "256 bytes per sector"),
    (0x0D, b"\x00", "a cluster of 0 bytes"),
    (0x0D, b"\x81", "a cluster of"),  # 2^127 sectors
    (0x40, b"\xd8", "MFT records of 1099511627776 bytes"),  # 2^40
    (0x40, b"\x03", "MFT records of 12288 bytes"),
    (0x30, struct.pack("<Q", 1 << 40), "outside the volume"),
])
def test_impossible_boot_sector_geometry_is_refused(offset: int, value: bytes, problem: str) -> None:
    with pytest.raises(CorruptVolume, match=problem):
        NtfsVolume(stream_of(_volume_with({offset: value})), "volume")


def test_dissect_reads_a_whole_volume_as_one_record_of_a_crafted_size() -> None:
    """KNOWN_ISSUES.md: dissect.ntfs sizes MFT records from the boot sector unchecked."""
    volume = bytes(_volume_with({0x40: b"\xe2"}))  # records of 2^30 bytes
    served = []

    def read(offset: int, length: int) -> bytes:
        served.append(length)
        return volume[offset:offset + length]
    with pytest.raises(Exception):  # noqa: B017 - whatever it raises, it has read everything first
        NTFS(ReadOnlyStream(read, len(volume)))
    assert max(served) >= len(volume) - 64 * 1024


def _non_resident_standard_information(volume: bytearray, number: int, claimed: int) -> None:
    """Turn the record's $STANDARD_INFORMATION non-resident: ``claimed`` bytes in one sparse run."""
    at = record_offset(volume, number)
    first = struct.unpack_from("<H", volume, at + 0x14)[0]
    attribute = at + first
    assert struct.unpack_from("<I", volume, attribute)[0] == 0x10
    clusters = claimed // 4096
    volume[attribute + 8] = 1
    struct.pack_into("<QQHHIQQQ", volume, attribute + 16, 0, clusters - 1, 0x40, 0, 0, claimed, claimed, claimed)
    volume[attribute + 0x40:attribute + 0x46] = b"\x04" + struct.pack("<I", clusters) + b"\x00"


def test_non_resident_standard_information_is_refused() -> None:
    volume = windows_volume()
    _non_resident_standard_information(volume, record_number(volume, "Windows"), 1 << 40)
    ntfs = NtfsVolume(stream_of(volume), "volume")
    with pytest.raises(CorruptVolume, match=r"non-resident \$STANDARD_INFORMATION"):
        ntfs.record("Windows\\System32\\config\\SYSTEM")


def test_dissect_allocates_what_a_non_resident_standard_information_claims() -> None:
    """KNOWN_ISSUES.md: parsing a record reads its $STANDARD_INFORMATION whole, whatever size it claims."""
    volume = windows_volume()
    number = record_number(volume, "Windows")
    _non_resident_standard_information(volume, number, 32 * MiB)
    fs = NTFS(io.BytesIO(bytes(volume)))
    at = record_offset(volume, number)
    record = MftRecord.from_bytes(bytes(volume[at:at + 1024]), fs)
    tracemalloc.start()
    try:
        assert record.attributes[ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak >= 32 * MiB


def _compressed_data_attribute(size: int, sparse_clusters: int) -> AttributeCollection:
    raw = bytearray(0x50)
    struct.pack_into("<IIBBHHH", raw, 0, 0x80, len(raw), 1, 0, 0x40, 0x0001, 0)
    struct.pack_into("<QQHHIQQQ", raw, 16, 0, sparse_clusters - 1, 0x40, 4, 0, size, size, size)
    raw[0x40:0x46] = b"\x04" + struct.pack("<I", sparse_clusters) + b"\x00"
    return AttributeCollection([Attribute(AttributeHeader.from_bytes(bytes(raw)))])


def test_compressed_stream_whose_runs_outgrow_its_size_is_refused() -> None:
    with pytest.raises(CorruptVolume, match="compressed stream of 4096 bytes with 16777216 clusters"):
        check_stream(_compressed_data_attribute(4096, 1 << 24), 4096, 8 * MiB, "file")
    check_stream(_compressed_data_attribute(4096, 16), 4096, 8 * MiB, "file")


def test_stream_larger_than_the_volume_is_refused() -> None:
    with pytest.raises(CorruptVolume, match="stream of 16777216 bytes on a volume of 8388608"):
        check_stream(_compressed_data_attribute(16 * MiB, 4096), 4096, 8 * MiB, "file")


def test_dissect_expands_a_compressed_run_list_into_compression_units_up_front() -> None:
    """KNOWN_ISSUES.md: the cost of opening a compressed stream follows its run lengths, not its data."""
    stream = CompressedRunlistStream(io.BytesIO(), [(None, 1 << 20)], 4096, 4096, 4)
    assert len(stream._cu_blocks) == 1 << 16


# --- directory indexes ---------------------------------------------------------------------------------------------

BLOCK = 4096


class _Stream(list):
    """A fake attribute collection: ``size()`` and ``open()`` over bytes."""

    def __init__(self, data: bytes) -> None:
        super().__init__([data])
        self.data = data

    def size(self) -> int:
        return len(self.data)

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.data)


class _Attributes:
    def __init__(self, allocation: bytes, bitmap: bytes) -> None:
        self.streams = {ATTRIBUTE_TYPE_CODE.INDEX_ALLOCATION: allocation, ATTRIBUTE_TYPE_CODE.BITMAP: bitmap}

    def find(self, name: str, kind: ATTRIBUTE_TYPE_CODE) -> list[bytes]:
        data = self.streams.get(kind)
        return _Stream(data) if data else []


class _Directory:
    """Just what DirectoryIndex reads of a directory record."""

    def __init__(self, root: bytes, allocation: bytes) -> None:
        self.root = root
        self.attributes = _Attributes(allocation, b"\x01")

    def open(self, name: str, kind: ATTRIBUTE_TYPE_CODE) -> io.BytesIO:
        assert kind == ATTRIBUTE_TYPE_CODE.INDEX_ROOT
        return io.BytesIO(self.root)


def _end_node(vcn: int) -> bytes:
    """An END entry with a child: INDEX_ENTRY header (length 24, flags NODE|END), then the child VCN."""
    return struct.pack("<QHHHH", 0, 24, 0, 0x3, 0) + struct.pack("<q", vcn)


def _looping_index(child: int) -> _Directory:
    entries = _end_node(child)
    root = struct.pack("<IIIB3x", 0x30, 1, BLOCK, 1) + struct.pack("<IIIB3x", 16, 16 + len(entries),
                                                                     16 + len(entries), 1) + entries
    block = bytearray(BLOCK)
    struct.pack_into("<4sHHQQ", block, 0, b"INDX", 0x28, BLOCK // 512 + 1, 0, 0)
    struct.pack_into("<IIIB", block, 24, 0x40 - 24, 0x40 - 24 + len(entries), BLOCK - 24, 1)
    block[0x40:0x40 + len(entries)] = _end_node(0)  # block 0 leads back to block 0
    return _Directory(root, protect(block))


def test_index_node_that_is_its_own_descendant_is_refused() -> None:
    index = DirectoryIndex(_looping_index(0), BLOCK, 8 * MiB, "dir")  # type: ignore[arg-type]
    with pytest.raises(CorruptVolume, match="VCN 0 is its own descendant"):
        index.find("anything")


def test_index_node_outside_the_allocation_is_refused() -> None:
    index = DirectoryIndex(_looping_index(7), BLOCK, 8 * MiB, "dir")  # type: ignore[arg-type]
    with pytest.raises(CorruptVolume, match="VCN 7 lies outside"):
        index.find("anything")


def test_index_allocation_larger_than_the_volume_is_refused() -> None:
    with pytest.raises(CorruptVolume, match="more than the volume holds"):
        DirectoryIndex(_looping_index(0), BLOCK, BLOCK // 2, "dir")  # type: ignore[arg-type]


def test_paths_resolve_as_before() -> None:
    ntfs = NtfsVolume(stream_of(windows_volume()), "volume")
    system = ntfs.stat("windows/system32/CONFIG/system")
    assert system is not None and system.size == 262144 and not system.is_dir
    assert ntfs.record("Windows\\nonexistent") is None
    assert ntfs.record("Windows\\System32\\config\\SYSTEM\\below-a-file") is None
    names = {info.path for info in ntfs.list_dir("Windows\\System32\\config")}
    assert {"Windows\\System32\\config\\SYSTEM", "Windows\\System32\\config\\SOFTWARE"} <= names
