"""Directory indexes (``$I30``): index nodes, their entries, and removing a leaf entry.

write-path.md §3.6 and §4.2. An index node is an INDEX_HEADER followed by
entries, the last of which is the END entry; the root node lives in the
resident ``$INDEX_ROOT`` value, the others in INDX blocks of
``$INDEX_ALLOCATION``, in use when their bit in ``$BITMAP:$I30`` is set.
Structure definitions come from ``dissect.ntfs.c_ntfs``; dissect's own index
walk ignores ``$BITMAP:$I30`` (library-notes.md §4.6), so vhdfix walks it here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dissect.ntfs.c_ntfs import c_ntfs

from vhdfix.ntfs.mft_record import FileName, RecordError, parse_file_name, split_reference

INDX_MAGIC = b"INDX"
I30 = "$I30"
# INDEX_ENTRY.Flags (layout.h INDEX_ENTRY_FLAGS)
ENTRY_NODE = 0x01  # the entry ends with the VCN of the child node holding the preceding keys
ENTRY_END = 0x02  # the last entry of a node; it has no key
# INDEX_HEADER.Flags: in the root, LARGE_INDEX (INDX blocks exist); in a block, INDEX_NODE (not a leaf)
HEADER_HAS_CHILDREN = 0x01
NTFS_BLOCK_SIZE = 512  # VCN unit of index blocks smaller than a cluster (layout.h NTFS_BLOCK_SIZE)

_ENTRY = c_ntfs.INDEX_ENTRY
_HEADER = c_ntfs.INDEX_HEADER
ENTRY_HEADER_SIZE = len(_ENTRY)
INDEX_HEADER_SIZE = len(_HEADER)
ROOT_HEADER_AT = c_ntfs.INDEX_ROOT.fields["IndexHeader"].offset  # INDEX_HEADER inside the INDEX_ROOT value
BLOCK_HEADER_AT = c_ntfs.INDEX_ALLOCATION_BUFFER.fields["IndexHeader"].offset  # inside an INDX block
INDEX_LENGTH_AT = _HEADER.fields["TotalSizeOfEntries"].offset
ALLOCATED_SIZE_AT = _HEADER.fields["AllocatedSize"].offset
# Read with struct rather than cstruct parses, as lookups walk every entry of a node: INDEX_HEADER
# FirstEntryOffset, TotalSizeOfEntries, AllocatedSize (u32) and Flags (u8); INDEX_ENTRY Length, KeyLength and
# Flags (u16) after the 8-byte file reference (write-path.md §3.6).
_HEADER_FIELDS = struct.Struct("<IIIB")
_ENTRY_FIELDS = struct.Struct("<8xHHH")


class IndexNodeError(ValueError):
    """An index node is inconsistent."""


@dataclass(frozen=True)
class IndexEntry:
    offset: int  # inside the node's buffer (the INDEX_ROOT value, or the INDX block)
    length: int
    flags: int
    record: int  # MFT record the entry points to (0 for END)
    sequence: int
    key: FileName | None  # None for the END entry

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


def parse_node(buf: bytes | bytearray, header_at: int, vcn: int | None) -> IndexNode:
    """The node whose INDEX_HEADER is at ``header_at`` in ``buf``; IndexNodeError when inconsistent."""
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
        length, key_length, flags = _ENTRY_FIELDS.unpack_from(buf, pos)
        node_vcn = 8 if flags & ENTRY_NODE else 0
        if length < ENTRY_HEADER_SIZE + node_vcn or length % 8 or pos + length > limit or \
                ENTRY_HEADER_SIZE + key_length + node_vcn > length:
            raise IndexNodeError(f"index entry at {pos} has length {length}, key {key_length}")
        if flags & ENTRY_END:
            if pos + length != limit:
                raise IndexNodeError(f"the END entry at {pos} does not end the node's used length")
            entries.append(IndexEntry(pos, length, flags, 0, 0, None))
            break
        try:
            key = parse_file_name(bytes(buf[pos + ENTRY_HEADER_SIZE:pos + ENTRY_HEADER_SIZE + key_length]))
        except RecordError as exc:
            raise IndexNodeError(f"index entry at {pos}: {exc}") from None
        record, sequence = split_reference(int.from_bytes(buf[pos:pos + 8], "little"))
        entries.append(IndexEntry(pos, length, flags, record, sequence, key))
        pos += length
    return IndexNode(vcn, header_at, first, used, allocated, header_flags, tuple(entries))


def parse_root(value: bytes | bytearray) -> IndexRoot:
    """An ``$INDEX_ROOT`` value (write-path.md §3.6)."""
    if len(value) < ROOT_HEADER_AT + INDEX_HEADER_SIZE:
        raise IndexNodeError("INDEX_ROOT value is too short")
    root = c_ntfs.INDEX_ROOT(bytes(value[:ROOT_HEADER_AT + INDEX_HEADER_SIZE]))
    node = parse_node(value, ROOT_HEADER_AT, None)
    if node.allocated_size != node.index_length or ROOT_HEADER_AT + node.index_length != len(value):
        # layout.h: in the root "the above two numbers are always equal, as the attribute is resident".
        raise IndexNodeError(f"INDEX_ROOT: {node.index_length} bytes used, {node.allocated_size} allocated, "
                          f"value of {len(value)} bytes")
    return IndexRoot(int(root.AttributeType), int(root.CollationRule), root.BytesPerIndexBuffer, node)


def parse_block(block: bytes | bytearray, vcn: int) -> IndexNode:
    """A fixed-up INDX block expected at ``vcn`` (checks as ntfs-3g's ``ntfs_index_block_inconsistent``)."""
    if bytes(block[:4]) != INDX_MAGIC:
        raise IndexNodeError(f"index block at VCN {vcn} has no INDX signature")
    header = c_ntfs.INDEX_ALLOCATION_BUFFER(bytes(block[:BLOCK_HEADER_AT + INDEX_HEADER_SIZE]))
    if header.Vcn != vcn:
        raise IndexNodeError(f"index block at VCN {vcn} says it is VCN {header.Vcn}")
    node = parse_node(block, BLOCK_HEADER_AT, vcn)
    if node.allocated_size + BLOCK_HEADER_AT != len(block):
        raise IndexNodeError(f"index block at VCN {vcn}: allocated size {node.allocated_size} for a "
                          f"{len(block)}-byte block")
    return node


def vcn_unit(cluster_size: int, block_size: int) -> int:
    """Bytes per index VCN: a cluster, or 512 when index blocks are smaller than a cluster."""
    return cluster_size if block_size >= cluster_size else NTFS_BLOCK_SIZE


def blocks_in_use(bitmap: bytes, allocation_size: int, block_size: int, cluster_size: int) -> list[int]:
    """VCNs of the INDX blocks whose ``$BITMAP:$I30`` bit is set, within ``allocation_size`` bytes."""
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
