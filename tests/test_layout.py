"""vhdfix.layout: offsets, sizes, parsing and packing of fixed-size structures, and the format modules built on it."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from tests.conftest import REPO
from vhdfix.disk import vhd_format, vhdx_format
from vhdfix.layout import Layout
from vhdfix.ntfs import ntfs_format
from vhdfix.partitions import partition_format
from vhdfix.registry import regf_format

ENTRY = Layout("entry", [("kind", "B"), ("length", "H")])
SAMPLE = Layout("sample", [
    ("signature", "4s"),
    ("number", "I"),
    ("big", "Q"),
    ("delta", "h"),
    ("entries", (ENTRY, 2)),
    ("name", "6s"),
])
SAMPLE_BYTES = b"abcd" + struct.pack("<IQh", 7, 2**40 + 5, -3) + b"\x01\x02\x00" + b"\x03\x04\x00" + b"xyz\0\0\0"


def test_offsets_and_size() -> None:
    assert [(name, field.offset, field.size) for name, field in SAMPLE.fields.items()] == [
        ("signature", 0, 4), ("number", 4, 4), ("big", 8, 8), ("delta", 16, 2), ("entries", 18, 6), ("name", 24, 6)]
    assert len(SAMPLE) == SAMPLE.size == 30 == len(SAMPLE_BYTES)


def test_parse() -> None:
    record = SAMPLE.parse(SAMPLE_BYTES)
    assert record.signature == b"abcd" and isinstance(record.signature, bytes)
    assert (record.number, record.big, record.delta) == (7, 2**40 + 5, -3)
    assert [(entry.kind, entry.length) for entry in record.entries] == [(1, 2), (3, 4)]
    assert record.name == b"xyz\0\0\0"
    assert SAMPLE.parse(b"??" + SAMPLE_BYTES + b"??", 2) == record
    assert repr(record).startswith("sample(signature=b'abcd', number=7,")


def test_records_are_read_only() -> None:
    record = SAMPLE.parse(SAMPLE_BYTES)
    with pytest.raises(AttributeError):
        record.number = 8  # type: ignore[misc]


def test_pack_round_trip() -> None:
    record = SAMPLE.parse(SAMPLE_BYTES)
    assert SAMPLE.pack(record) == SAMPLE_BYTES
    assert SAMPLE.pack(**{name: getattr(record, name) for name in SAMPLE.fields}) == SAMPLE_BYTES
    assert SAMPLE.parse(SAMPLE.pack(record, number=9)).number == 9


def test_pack_fills_zeros() -> None:
    assert SAMPLE.pack() == bytes(len(SAMPLE))
    packed = SAMPLE.pack(signature=b"ab", entries=[ENTRY.parse(b"\x05\x06\x00")])
    assert packed == b"ab\0\0" + bytes(14) + b"\x05\x06\x00" + bytes(9)


def test_pack_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match=r"sample\.name: 7 bytes do not fit in 6"):
        SAMPLE.pack(name=b"x" * 7)
    with pytest.raises(ValueError, match=r"sample\.entries"):
        SAMPLE.pack(entries=[ENTRY.parse(bytes(3))] * 3)
    with pytest.raises(TypeError, match="no field 'nombre'"):
        SAMPLE.pack(nombre=1)
    with pytest.raises(struct.error):
        SAMPLE.pack(number=2**32)


def test_big_endian() -> None:
    footer = Layout("footer", [("cookie", "2s"), ("size", "Q"), ("kind", "I")], byte_order=">")
    raw = b"ok" + (0x0102030405060708).to_bytes(8, "big") + (3).to_bytes(4, "big")
    record = footer.parse(raw)
    assert (record.size, record.kind) == (0x0102030405060708, 3)
    assert footer.pack(cookie=b"ok", size=0x0102030405060708, kind=3) == raw


@pytest.mark.parametrize(("data", "offset"), [(b"", 0), (SAMPLE_BYTES[:-1], 0), (SAMPLE_BYTES, 1)])
def test_short_data_raises_eof_error(data: bytes, offset: int) -> None:
    with pytest.raises(EOFError, match=f"sample: 30 bytes needed at offset {offset}, the data holds {len(data)}"):
        SAMPLE.parse(data, offset)


def test_parse_array() -> None:
    entries = ENTRY.parse_array(b"!\x01\x02\x00\x03\x04\x00", 2, 1)
    assert [(entry.kind, entry.length) for entry in entries] == [(1, 2), (3, 4)]
    with pytest.raises(EOFError):
        ENTRY.parse_array(bytes(5), 2)


@pytest.mark.parametrize("fields", [
    [("bad", "3B")],  # one value per field
    [("bad", "x")],
    [("bad", "s2")],
    [("count", "I")],  # a tuple method
    [("layout", "I")],
    [("_hidden", "I")],
    [("twice", "I"), ("twice", "H")],
])
def test_invalid_declarations(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError):
        Layout("bad", fields)


def test_invalid_byte_order() -> None:
    with pytest.raises(ValueError, match="byte order"):
        Layout("native", [("value", "I")], byte_order="@")


def test_format_modules_match_their_constants() -> None:
    """The sizes and offsets the readers and writers use as constants are the declared layouts'."""
    vhd, vhdx, regf = vhd_format, vhdx_format, regf_format
    assert len(vhd.HARD_DISK_FOOTER) == vhd.FOOTER_SIZE
    assert vhd.HARD_DISK_FOOTER.fields["checksum"].offset == vhd.FOOTER_CHECKSUM_OFFSET
    assert len(vhd.DYNAMIC_DISK_HEADER) == vhd.DYNAMIC_HEADER_SIZE
    assert vhd.DYNAMIC_DISK_HEADER.fields["checksum"].offset == vhd.DYNAMIC_HEADER_CHECKSUM_OFFSET
    assert len(vhdx.HEADER) == vhdx.HEADER_SIZE
    assert vhdx.HEADER.fields["checksum"].offset == vhdx.HEADER_CHECKSUM_OFFSET
    assert vhdx.REGION_TABLE_HEADER.fields["checksum"].offset == vhdx.REGION_TABLE_CHECKSUM_OFFSET
    assert len(vhdx.LOG_ENTRY_HEADER) == vhdx.LOG_ENTRY_HEADER_SIZE
    assert vhdx.LOG_ENTRY_HEADER.fields["checksum"].offset == vhdx.LOG_ENTRY_CHECKSUM_OFFSET
    assert len(vhdx.ZERO_DESCRIPTOR) == len(vhdx.DATA_DESCRIPTOR) == vhdx.LOG_DESCRIPTOR_SIZE
    assert len(vhdx.DATA_SECTOR) == vhdx.LOG_SECTOR_SIZE
    assert len(vhdx.PARENT_LOCATOR_HEADER) == vhdx.PARENT_LOCATOR_HEADER_SIZE
    assert len(vhdx.PARENT_LOCATOR_ENTRY) == vhdx.PARENT_LOCATOR_ENTRY_SIZE
    assert len(vhdx.METADATA_TABLE_HEADER) == len(vhdx.METADATA_TABLE_ENTRY) == 32
    assert len(vhdx.REGION_TABLE_HEADER) + vhdx.REGION_TABLE_MAX_ENTRIES * len(vhdx.REGION_TABLE_ENTRY) \
        <= vhdx.REGION_TABLE_SIZE
    assert len(partition_format.LEGACY_MBR) == 512
    assert len(partition_format.GPT_HEADER) == partition_format.GPT_HEADER_MIN_SIZE
    assert len(partition_format.GPT_PARTITION_ENTRY) == 128
    assert len(regf.BASE_BLOCK) == regf.SECTOR_SIZE and regf.CHECKSUMMED_SIZE == 508
    assert (regf.HIVE_BIN_HEADER_SIZE, regf.KEY_NODE_FIXED_SIZE, regf.KEY_VALUE_FIXED_SIZE) == (32, 76, 20)
    assert (regf.LOG_ENTRY_HEADER_SIZE, regf.LOG_ENTRY_HASH_2_COVERAGE) == (40, 32)
    assert len(ntfs_format.VOLUME_INFORMATION) == 12
    assert ntfs_format.RESTART_PAGE_HEADER.fields["system_page_size"].offset == 16


def test_format_modules_do_not_load_dissect_cstruct() -> None:
    """Declaring vhdfix's structures costs next to nothing at start (dissect.ntfs still brings cstruct for its own)."""
    modules = ("vhdfix.registry.regf_format", "vhdfix.disk.vhdx_format", "vhdfix.disk.vhd_format",
               "vhdfix.partitions.partition_format", "vhdfix.registry", "vhdfix.disk", "vhdfix.partitions",
               "vhdfix.copy.vhd", "vhdfix.copy.vhdx")
    code = f"import sys\nimport {', '.join(modules)}\nprint('dissect.cstruct' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          timeout=60)
    assert done.stdout.strip() == "False"
