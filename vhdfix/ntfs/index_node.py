"""NTFS index nodes: directories (``$I30``) and the view indexes ``$ObjId:$O`` and ``$Reparse:$R``.

write-path.md §3.6 and §4.2. An index node is an INDEX_HEADER followed by
entries, the last of which is the END entry; the root node lives in the
resident ``$INDEX_ROOT`` value, the others in INDX blocks of
``$INDEX_ALLOCATION``, in use when their bit in ``$BITMAP`` is set. Structure
definitions come from ``dissect.ntfs.c_ntfs``; dissect's own index walk ignores
the ``$BITMAP`` (library-notes.md §4.6), so vhdfix walks it here.

Every entry names one file (:class:`IndexKind` says where its MFT reference lies):

* ``$I30``: the entry's first 8 bytes are the file's MFT reference; the key is a ``$FILE_NAME``.
* a view index (ntfs-3g layout.h ``INDEX_ENTRY_HEADER``, the union of ``indexed_file`` with
  ``data_offset``/``data_length``): the first 8 bytes say where the entry's data lies.

  - ``$Extend\\$ObjId:$O`` (Linux-NTFS documentation, "Files - $ObjId",
    flatcap.github.io/linux-ntfs/ntfs/files/objid.html; MS-FSCC FILE_OBJECTID_INFORMATION):
    key = the 16-byte object id GUID; data (56 bytes) = the file's MFT reference, then the birth volume
    id, birth object id and domain id GUIDs.
  - ``$Extend\\$Reparse:$R`` (Linux-NTFS documentation, "Files - $Reparse", .../files/reparse.html):
    key (12 bytes) = the reparse tag (u32), then the file's MFT reference; no data.

  Both collate as COLLATION_NTOFS_ULONGS (0x13): keys compare as sequences of little-endian u32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from dissect.ntfs.c_ntfs import COLLATION, c_ntfs

from vhdfix.ntfs.mft_record import FileName, RecordError, parse_file_name, split_reference

INDX_MAGIC = b"INDX"
I30 = "$I30"
# INDEX_ENTRY.Flags (layout.h INDEX_ENTRY_FLAGS)
ENTRY_NODE = 0x01  # the entry ends with the VCN of the child node holding the preceding keys
ENTRY_END = 0x02  # the last entry of a node; it has no key
# INDEX_HEADER.Flags: in the root, LARGE_INDEX (INDX blocks exist); in a block, INDEX_NODE (not a leaf)
HEADER_HAS_CHILDREN = 0x01
NTFS_BLOCK_SIZE = 512  # VCN unit of index blocks smaller than a cluster (layout.h NTFS_BLOCK_SIZE)
MIN_BLOCK_SIZE, MAX_BLOCK_SIZE = 512, 64 * 1024  # INDX blocks are 4 KiB in practice

_ENTRY = c_ntfs.INDEX_ENTRY
_HEADER = c_ntfs.INDEX_HEADER
ENTRY_HEADER_SIZE = len(_ENTRY)
INDEX_HEADER_SIZE = len(_HEADER)
ROOT_HEADER_AT = c_ntfs.INDEX_ROOT.fields["IndexHeader"].offset  # INDEX_HEADER inside the INDEX_ROOT value
BLOCK_HEADER_AT = c_ntfs.INDEX_ALLOCATION_BUFFER.fields["IndexHeader"].offset  # inside an INDX block
INDEX_LENGTH_AT = _HEADER.fields["TotalSizeOfEntries"].offset
ALLOCATED_SIZE_AT = _HEADER.fields["AllocatedSize"].offset
# Read with struct rather than cstruct parses, as lookups walk every entry of a node: INDEX_HEADER
# FirstEntryOffset, TotalSizeOfEntries, AllocatedSize (u32) and Flags (u8); INDEX_ENTRY DataOffset and
# DataLength (u16, a view index's use of the file reference), Length, KeyLength and Flags (u16)
# (write-path.md §3.6).
_HEADER_FIELDS = struct.Struct("<IIIB")
_ENTRY_FIELDS = struct.Struct("<HH4xHHH")


@dataclass(frozen=True)
class IndexKind:
    """One kind of index: its attribute name, collation rule, and where an entry's MFT reference lies."""

    name: str  # the index's attribute name
    label: str  # for messages
    collation: int
    key_size: int | None  # a view index's fixed key size; None for $I30 (a $FILE_NAME of any length)
    reference_in: Literal["header", "data", "key"]  # "header" for $I30; "data" or "key" in a view index
    reference_at: int  # offset of the MFT reference in that part

    @property
    def is_view(self) -> bool:
        return self.key_size is not None


DIRECTORY_INDEX = IndexKind(I30, "directory index", int(COLLATION.FILE_NAME), None, "header", 0)
OBJECT_ID_INDEX = IndexKind("$O", "$Extend\\$ObjId:$O", int(COLLATION.NTOFS_ULONGS), 16, "data", 0)
REPARSE_INDEX = IndexKind("$R", "$Extend\\$Reparse:$R", int(COLLATION.NTOFS_ULONGS), 12, "key", 4)


class IndexNodeError(ValueError):
    """An index node is inconsistent."""


@dataclass(frozen=True)
class IndexEntry:
    offset: int  # inside the node's buffer (the INDEX_ROOT value, or the INDX block)
    length: int
    flags: int
    record: int  # MFT record of the file the entry names (0 for END)
    sequence: int
    key: FileName | None  # the $FILE_NAME key of a $I30 entry; None for END and in view indexes
    raw_key: bytes = b""
    data: bytes = b""  # a view index entry's data

    @property
    def is_end(self) -> bool:
        return bool(self.flags & ENTRY_END)

    @property
    def is_node(self) -> bool:
        return bool(self.flags & ENTRY_NODE)


@dataclass(frozen=True)
class IndexNode:
    vcn: int | None  # None for the root
    header_at: int  # where the INDEX_HEADER lies in the buffer
    entries_offset: int  # relative to the header
    index_length: int  # relative to the header: the END entry ends here
    allocated_size: int
    flags: int
    entries: tuple[IndexEntry, ...]  # END included

    @property
    def has_children(self) -> bool:
        return bool(self.flags & HEADER_HAS_CHILDREN)

    @property
    def keyed_entries(self) -> tuple[IndexEntry, ...]:
        return tuple(entry for entry in self.entries if not entry.is_end)


@dataclass(frozen=True)
class IndexRoot:
    attribute_type: int
    collation_rule: int
    block_size: int
    node: IndexNode


def _view_entry(buf: bytes | bytearray, pos: int, length: int, key_length: int, flags: int, data_offset: int,
                data_length: int, kind: IndexKind) -> IndexEntry:
    key = bytes(buf[pos + ENTRY_HEADER_SIZE:pos + ENTRY_HEADER_SIZE + key_length])
    data_end = length - (8 if flags & ENTRY_NODE else 0)
    if key_length != kind.key_size or data_offset < ENTRY_HEADER_SIZE + key_length or \
            data_offset + data_length > data_end:
        raise IndexNodeError(f"{kind.label} entry at {pos}: key of {key_length} bytes, {data_length} bytes of data "
                             f"at {data_offset} in {length}")
    data = bytes(buf[pos + data_offset:pos + data_offset + data_length])
    part = data if kind.reference_in == "data" else key
    if len(part) < kind.reference_at + 8:
        raise IndexNodeError(f"{kind.label} entry at {pos} has no room for an MFT reference")
    record, sequence = split_reference(int.from_bytes(part[kind.reference_at:kind.reference_at + 8], "little"))
    return IndexEntry(pos, length, flags, record, sequence, None, key, data)


def parse_node(buf: bytes | bytearray, header_at: int, vcn: int | None,
               kind: IndexKind = DIRECTORY_INDEX) -> IndexNode:
    """The node of a ``kind`` index whose INDEX_HEADER is at ``header_at`` in ``buf``; IndexNodeError when
    inconsistent."""
    if header_at + INDEX_HEADER_SIZE > len(buf):
        raise IndexNodeError("index header runs past its buffer")
    first, used, allocated, header_flags = _HEADER_FIELDS.unpack_from(buf, header_at)
    if first < INDEX_HEADER_SIZE or first % 8 or used < first or allocated < used or header_at + allocated > len(buf):
        raise IndexNodeError(f"index header: entries at {first}, {used} bytes used of {allocated}")
    entries = []
    pos, limit = header_at + first, header_at + used
    while True:
        if pos + ENTRY_HEADER_SIZE > limit:
            raise IndexNodeError("index node has no END entry inside its used length")
        data_offset, data_length, length, key_length, flags = _ENTRY_FIELDS.unpack_from(buf, pos)
        node_vcn = 8 if flags & ENTRY_NODE else 0
        if length < ENTRY_HEADER_SIZE + node_vcn or length % 8 or pos + length > limit or \
                ENTRY_HEADER_SIZE + key_length + node_vcn > length:
            raise IndexNodeError(f"index entry at {pos} has length {length}, key {key_length}")
        if flags & ENTRY_END:
            if pos + length != limit:
                raise IndexNodeError(f"the END entry at {pos} does not end the node's used length")
            entries.append(IndexEntry(pos, length, flags, 0, 0, None))
            break
        if kind.is_view:
            entries.append(_view_entry(buf, pos, length, key_length, flags, data_offset, data_length, kind))
        else:
            raw_key = bytes(buf[pos + ENTRY_HEADER_SIZE:pos + ENTRY_HEADER_SIZE + key_length])
            try:
                key = parse_file_name(raw_key)
            except RecordError as exc:
                raise IndexNodeError(f"index entry at {pos}: {exc}") from None
            record, sequence = split_reference(int.from_bytes(buf[pos:pos + 8], "little"))
            entries.append(IndexEntry(pos, length, flags, record, sequence, key, raw_key))
        pos += length
    return IndexNode(vcn, header_at, first, used, allocated, header_flags, tuple(entries))


def parse_root(value: bytes | bytearray, kind: IndexKind = DIRECTORY_INDEX) -> IndexRoot:
    """The ``$INDEX_ROOT`` value of a ``kind`` index (write-path.md §3.6)."""
    if len(value) < ROOT_HEADER_AT + INDEX_HEADER_SIZE:
        raise IndexNodeError("INDEX_ROOT value is too short")
    root = c_ntfs.INDEX_ROOT(bytes(value[:ROOT_HEADER_AT + INDEX_HEADER_SIZE]))
    if kind.is_view and (root.AttributeType or root.CollationRule != kind.collation):
        # A view index indexes no attribute (type 0) and collates its keys as the kind says.
        raise IndexNodeError(f"{kind.label}: INDEX_ROOT of attribute type {int(root.AttributeType):#x}, collation "
                             f"{int(root.CollationRule):#x}")
    node = parse_node(value, ROOT_HEADER_AT, None, kind)
    if node.allocated_size != node.index_length or ROOT_HEADER_AT + node.index_length != len(value):
        # layout.h: in the root "the above two numbers are always equal, as the attribute is resident".
        raise IndexNodeError(f"INDEX_ROOT: {node.index_length} bytes used, {node.allocated_size} allocated, "
                          f"value of {len(value)} bytes")
    return IndexRoot(int(root.AttributeType), int(root.CollationRule), root.BytesPerIndexBuffer, node)


def parse_block(block: bytes | bytearray, vcn: int, kind: IndexKind = DIRECTORY_INDEX) -> IndexNode:
    """A fixed-up INDX block expected at ``vcn`` (checks as ntfs-3g's ``ntfs_index_block_inconsistent``)."""
    if bytes(block[:4]) != INDX_MAGIC:
        raise IndexNodeError(f"index block at VCN {vcn} has no INDX signature")
    header = c_ntfs.INDEX_ALLOCATION_BUFFER(bytes(block[:BLOCK_HEADER_AT + INDEX_HEADER_SIZE]))
    if header.Vcn != vcn:
        raise IndexNodeError(f"index block at VCN {vcn} says it is VCN {header.Vcn}")
    node = parse_node(block, BLOCK_HEADER_AT, vcn, kind)
    if node.allocated_size + BLOCK_HEADER_AT != len(block):
        raise IndexNodeError(f"index block at VCN {vcn}: allocated size {node.allocated_size} for a "
                          f"{len(block)}-byte block")
    return node


def valid_block_size(size: int) -> bool:
    """Whether an INDEX_ROOT's index block size is one NTFS uses: a power of two from 512 bytes to 64 KiB."""
    return MIN_BLOCK_SIZE <= size <= MAX_BLOCK_SIZE and not size & (size - 1)


def vcn_unit(cluster_size: int, block_size: int) -> int:
    """Bytes per index VCN: a cluster, or 512 when index blocks are smaller than a cluster."""
    return cluster_size if block_size >= cluster_size else NTFS_BLOCK_SIZE


def blocks_in_use(bitmap: bytes, allocation_size: int, block_size: int, cluster_size: int) -> list[int]:
    """VCNs of the INDX blocks whose ``$BITMAP`` bit is set, within ``allocation_size`` bytes."""
    unit = vcn_unit(cluster_size, block_size)
    vcns = []
    for index in range(min(len(bitmap) * 8, allocation_size // block_size)):
        if bitmap[index >> 3] & (1 << (index & 7)):
            vcns.append(index * block_size // unit)
    return vcns


def child_vcn(buf: bytes | bytearray, entry: IndexEntry) -> int:
    """The child VCN at the end of a NODE entry."""
    return struct.unpack_from("<q", buf, entry.offset + entry.length - 8)[0]


def remove_from_block(block: bytearray, node: IndexNode, entry: IndexEntry) -> None:
    """Remove a leaf entry from a fixed-up INDX block in place (write-path.md §4.2 case B).

    The entries after it move down, ``index_length`` shrinks, and the freed
    tail is zeroed so that the removed name does not linger in slack.
    """
    end = node.header_at + node.index_length
    block[entry.offset:end - entry.length] = block[entry.offset + entry.length:end]
    block[end - entry.length:end] = bytes(entry.length)
    struct.pack_into("<I", block, node.header_at + INDEX_LENGTH_AT, node.index_length - entry.length)


def remove_from_root_value(value: bytes | bytearray, node: IndexNode, entry: IndexEntry) -> bytes:
    """The ``$INDEX_ROOT`` value without ``entry``: ``index_length`` and ``allocated_size`` both shrink
    (write-path.md §4.2 case A; the caller resizes the attribute to the returned length)."""
    shrunk = bytearray(value[:entry.offset]) + value[entry.offset + entry.length:]
    length = node.index_length - entry.length
    struct.pack_into("<I", shrunk, node.header_at + INDEX_LENGTH_AT, length)
    struct.pack_into("<I", shrunk, node.header_at + ALLOCATED_SIZE_AT, length)
    return bytes(shrunk)


def ntofs_ulongs(key: bytes) -> tuple[int, ...]:
    """The sort key of COLLATION_NTOFS_ULONGS (``$O``, ``$R``): the key as little-endian u32 values, compared
    in order."""
    return struct.unpack_from(f"<{len(key) // 4}I", key)
