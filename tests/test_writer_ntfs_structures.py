"""The NTFS pieces of the writer: mapping pairs, extents, fixups, record and index edits."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from tests.support.writer_support import CASES, writer_cases
from vhdfix.ntfs.extents import Extents, MappingPairsError, Run, decode_mapping_pairs
from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.fixup_write import next_usn, protect
from vhdfix.ntfs.index_node import (
    I30,
    OBJECT_ID_INDEX,
    REPARSE_INDEX,
    IndexNodeError,
    ntofs_ulongs,
    parse_node,
    parse_root,
    remove_from_root_value,
)
from vhdfix.ntfs.mft_record import parse_record
from vhdfix.ntfs.record_edit import next_record_sequence, resize_resident_value
from vhdfix.writer.context import open_context
from vhdfix.writer.volume_view import VolumeView


def test_mapping_pairs_decode_runs_sparse_runs_and_negative_deltas() -> None:
    # 0x21: 1 length byte, 2 LCN bytes; 0x01: a sparse run; 0x11 with 0xF0: LCN delta -16.
    data = bytes([0x21, 0x18, 0x34, 0x56, 0x01, 0x08, 0x11, 0x04, 0xF0, 0x00])
    assert decode_mapping_pairs(data, 0, len(data)) == [Run(0, 0x5634, 0x18), Run(0x18, None, 8),
                                                        Run(0x20, 0x5624, 4)]
    assert decode_mapping_pairs(bytes([0x11, 0x02, 0x05, 0x00]), 0, 4, lowest_vcn=7) == [Run(7, 5, 2)]


@pytest.mark.parametrize("data", [bytes([0x21, 0x18]), bytes([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]),
                                  bytes([0x11, 0x00, 0x05, 0x00]), bytes([0x11, 0x02, 0xF0, 0x00])],
                         ids=["truncated", "length-too-wide", "empty-run", "negative-lcn"])
def test_bad_mapping_pairs_are_errors(data: bytes) -> None:
    with pytest.raises(MappingPairsError):
        decode_mapping_pairs(data, 0, len(data))


def test_extents_map_file_offsets_to_volume_pieces() -> None:
    extents = Extents([Run(0, 10, 2), Run(2, 12, 1), Run(3, None, 1), Run(4, 100, 2)], 4096)
    assert extents.mapped_size == 6 * 4096
    # Runs 10-11 and 12 are contiguous on the volume: one piece.
    assert extents.volume_ranges(100, 3 * 4096) == [(10 * 4096 + 100, 3 * 4096 - 100), (None, 100)]
    assert extents.volume_ranges(4 * 4096 + 5, 10) == [(100 * 4096 + 5, 10)]
    assert extents.clusters() == [(10, 2), (12, 1), (100, 2)]
    with pytest.raises(ValueError, match="outside"):
        extents.volume_ranges(6 * 4096 - 1, 2)


def test_update_sequence_numbers_skip_zero_and_ffff() -> None:
    assert [next_usn(n) for n in (1, 0x1234, 0xFFFD, 0xFFFE, 0xFFFF)] == [2, 0x1235, 0xFFFE, 1, 1]


def test_protect_is_the_inverse_of_apply_fixup_with_a_new_number() -> None:
    block = bytearray(1024)
    block[0:4] = b"FILE"
    struct.pack_into("<HH", block, 4, 0x30, 3)
    struct.pack_into("<H", block, 0x30, 0xFFFE)
    block[510:512] = b"\xaa\xbb"
    block[1022:1024] = b"\xcc\xdd"
    on_disk = protect(block)
    assert on_disk[510:512] == on_disk[1022:1024] == on_disk[0x30:0x32] == b"\x01\x00"
    fixed = apply_fixup(on_disk, 1024)
    assert fixed[510:512] == b"\xaa\xbb" and fixed[1022:1024] == b"\xcc\xdd"
    torn = bytearray(on_disk)
    torn[1023] ^= 1
    with pytest.raises(FixupError):
        apply_fixup(bytes(torn), 1024)


def test_freed_records_get_the_next_sequence_number() -> None:
    assert [next_record_sequence(n) for n in (1, 5, 0xFFFF, 0)] == [2, 6, 1, 0]


def test_removing_an_index_root_entry_shrinks_the_attribute_and_the_record(tmp_path: Path) -> None:
    image = writer_cases(tmp_path)
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        directory = context.ntfs.record(CASES["resident_in_root"].rsplit("\\", 1)[0]).segment
        record, parsed = view.record(directory)
        record = bytearray(record)
    attribute = parsed.find(ATTRIBUTE_TYPE_CODE.INDEX_ROOT, I30)[0]
    root = parse_root(attribute.value(record))
    entry = root.node.keyed_entries[0]
    shrink = resize_resident_value(record, parsed, attribute, remove_from_root_value(attribute.value(record),
                                                                                     root.node, entry))
    after = parse_record(record)
    assert shrink == entry.length
    assert after.bytes_in_use == parsed.bytes_in_use - entry.length
    assert after.end_offset == parsed.end_offset - entry.length
    assert record[after.bytes_in_use:parsed.bytes_in_use] == bytes(entry.length)  # freed tail zeroed
    new_root = after.find(ATTRIBUTE_TYPE_CODE.INDEX_ROOT, I30)[0]
    shrunk = parse_root(new_root.value(record))
    assert new_root.length == attribute.length - entry.length
    assert shrunk.node.index_length == shrunk.node.allocated_size == root.node.index_length - entry.length
    assert [e.key for e in shrunk.node.keyed_entries] == [e.key for e in root.node.keyed_entries[1:]]
    assert [a.type for a in after.attributes] == [a.type for a in parsed.attributes]


def test_an_index_node_without_an_end_entry_is_an_error() -> None:
    node = bytearray(64)
    struct.pack_into("<IIIB", node, 0, 16, 16, 48, 0)  # no room for any entry
    with pytest.raises(IndexNodeError, match="no END entry"):
        parse_node(node, 0, None)
    struct.pack_into("<QHHH", node, 16, 0, 16, 0, 2)  # END, but the node claims 8 more bytes
    struct.pack_into("<I", node, 4, 40)
    with pytest.raises(IndexNodeError, match="does not end"):
        parse_node(node, 0, None)


def _view_node(*entries: bytes) -> bytes:
    """An index node: INDEX_HEADER, then ``entries`` and an END entry."""
    body = b"".join(entries) + struct.pack("<HHIHHHH", 0, 0, 0, 16, 0, 2, 0)
    return struct.pack("<IIII", 16, 16 + len(body), 16 + len(body), 0) + body


def _object_id_entry(key: bytes, reference: int, data_offset: int = 0x20, data_length: int = 0x38,
                     key_length: int = 16) -> bytes:
    """An $ObjId:$O entry (flatcap "Files - $ObjId"): data offset/length, length 0x58, key 16, the GUID, then
    the MFT reference and three more GUIDs."""
    return struct.pack("<HHIHHHH", data_offset, data_length, 0, 0x58, key_length, 0, 0) + key + \
        struct.pack("<Q", reference) + bytes(48)


def _reparse_entry(tag: int, reference: int) -> bytes:
    """A $Reparse:$R entry (flatcap "Files - $Reparse"): data at 0x1C, no data, length 0x20, key 12."""
    return struct.pack("<HHIHHHH", 0x1C, 0, 0, 0x20, 12, 0, 0) + struct.pack("<IQ", tag, reference) + bytes(4)


def test_view_index_entries_name_their_file_by_data_or_key() -> None:
    guid = bytes(range(16))
    (objid,) = parse_node(_view_node(_object_id_entry(guid, 36 | 3 << 48)), 0, None, OBJECT_ID_INDEX).keyed_entries
    assert (objid.raw_key, objid.record, objid.sequence, objid.key, len(objid.data)) == (guid, 36, 3, None, 0x38)
    (link,) = parse_node(_view_node(_reparse_entry(0xA000000C, 77 | 1 << 48)), 0, None, REPARSE_INDEX).keyed_entries
    assert (link.record, link.sequence, link.data) == (77, 1, b"")
    assert ntofs_ulongs(link.raw_key) == (0xA000000C, 77, 1 << 16)


@pytest.mark.parametrize("entry", [
    _object_id_entry(bytes(16), 36, data_offset=0x50),  # the data runs past the entry
    _object_id_entry(bytes(16), 36, data_offset=0x18),  # the data overlaps the key
    _object_id_entry(bytes(16), 36, data_length=4),  # no room for the MFT reference
    _object_id_entry(bytes(16), 36, key_length=12),  # not a GUID
], ids=["data-past-entry", "data-over-key", "data-too-short", "key-size"])
def test_malformed_view_entries_are_errors(entry: bytes) -> None:
    with pytest.raises(IndexNodeError):
        parse_node(_view_node(entry), 0, None, OBJECT_ID_INDEX)


def test_a_view_root_must_collate_as_its_index_does() -> None:
    node = _view_node(_object_id_entry(bytes(16), 36))
    root = struct.pack("<IIIB3x", 0, 0x13, 4096, 1) + node
    assert parse_root(root, OBJECT_ID_INDEX).node.keyed_entries[0].record == 36
    with pytest.raises(IndexNodeError, match="collation"):
        parse_root(struct.pack("<IIIB3x", 0, 0x10, 4096, 1) + node, OBJECT_ID_INDEX)
    with pytest.raises(IndexNodeError, match="attribute type"):
        parse_root(struct.pack("<IIIB3x", 0x30, 0x13, 4096, 1) + node, OBJECT_ID_INDEX)
