"""Bounded reads of cells by offset: key nodes, subkey lists, and key values with their data.

The one cell reader of vhdfix: lookups (key_paths.py, hive.py) and the
writer's in-place edits both read through it. It covers what regipy does not
expose or check: cell offsets, the raw data of values, signatures and bounds.
Every offset and length read from the hive is checked before use; a bad one
raises :class:`HiveCorrupt`. A strict reader (:meth:`Cells.strict`, for the
writer) also requires every offset to be the start of an allocated cell found
by a walk of all hive bins.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter

from vhdfix.errors import HiveCorrupt
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    BIG_DATA,
    BIG_DATA_MIN_MINOR_VERSION,
    BIG_DATA_SEGMENT_SIZE,
    BIG_DATA_SIGNATURE,
    DATA_SIZE_INLINE,
    HBIN_SIGNATURE,
    HIVE_BIN_ALIGNMENT,
    HIVE_BIN_HEADER,
    HIVE_BIN_HEADER_SIZE,
    KEY_NODE,
    KEY_NODE_FIXED_SIZE,
    KEY_NODE_SIGNATURE,
    KEY_VALUE,
    KEY_VALUE_FIXED_SIZE,
    KEY_VALUE_SIGNATURE,
    VALUE_COMP_NAME,
)

_CELL_SIZE = struct.Struct("<i")  # regf spec, 'Cell': i32 size, negative when allocated
_CELL_ALIGNMENT = 8
_INLINE_MAX = 4
_U32 = struct.Struct("<I")
_LIST_HEADER = 4
INDEX_ROOT_SIGNATURE = b"ri"
LEAF_STRIDES = {b"li": 4, b"lf": 8, b"lh": 8}  # offset only, or offset + name hint / name hash
KEY_COMP_NAME = 0x0020  # regf spec, 'Key node' / 'Flags': the key name is ASCII (Latin-1)
NO_CELL = 0xFFFFFFFF
_KEY_NAME_LENGTH_AT = KEY_NODE.fields["key_name_length"].offset
_KEY_FLAGS_AT = KEY_NODE.fields["flags"].offset
_KEY_PARENT_AT = KEY_NODE.fields["parent"].offset
_U16 = struct.Struct("<H")
_VALUE_NAME_LENGTH_AT = KEY_VALUE.fields["name_length"].offset
_VALUE_DATA_SIZE_AT = KEY_VALUE.fields["data_size"].offset
_VALUE_DATA_OFFSET_AT = KEY_VALUE.fields["data_offset"].offset
_VALUE_DATA_TYPE_AT = KEY_VALUE.fields["data_type"].offset
_VALUE_FLAGS_AT = KEY_VALUE.fields["flags"].offset


def fold_name(name: str) -> str:
    """Case-insensitive form of a key or value name (Windows upcases each character)."""
    if name.isascii():
        return name.upper()
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in name)


def decode_name(raw: bytes, ascii_flag: bool) -> str:
    """Key and value names: 'extended ASCII' (Latin-1) when the flag is set, else UTF-16LE."""
    return raw.decode("latin-1") if ascii_flag else raw.decode("utf-16-le", errors="replace")


class KeyNode(KEY_NODE.record):
    """regf spec, 'Key node': the fields of the fixed part, then ``key_name_string`` (bytes), the name as stored."""

    __slots__ = ()
    names = (*KEY_NODE.fields, "key_name_string")
    key_name_string = property(itemgetter(len(KEY_NODE.fields)))


@dataclass(frozen=True)
class KeyValueCell:
    """A key value cell (vk) with its decoded name; the data is read on demand."""

    offset: int  # of the vk cell, relative to the hive bins data
    name: str
    data_type: int
    data_size: int  # the raw field: bit 31 set = inline
    data_offset: int  # the raw field: a cell offset, or the inline data

    @property
    def inline(self) -> bool:
        return bool(self.data_size & DATA_SIZE_INLINE)

    @property
    def length(self) -> int:
        return self.data_size & ~DATA_SIZE_INLINE

    @property
    def file_offset(self) -> int:
        """File offset of the vk record (after the cell's size field)."""
        return BASE_BLOCK_SIZE + self.offset + _CELL_SIZE.size


@dataclass(frozen=True)
class SubkeyEntry:
    """One element of a key's subkey lists: the subkey's cell offset and its name as stored."""

    offset: int
    name: str


class Cells:
    """The allocated cells of one hive image, addressed by offset relative to the hive bins data.

    ``allocated`` (offset -> data length) makes the reader strict: only
    offsets in it are cells. The image may be a bytearray edited in place, as
    long as the edits keep the cell layout.
    """

    def __init__(self, hive_name: str, data: bytes | bytearray, hive_bins_data_size: int, minor_version: int,
                 allocated: Mapping[int, int] | None = None) -> None:
        self.hive_name = hive_name
        self._view = memoryview(data)
        self._end = min(len(data), BASE_BLOCK_SIZE + hive_bins_data_size)
        self.minor_version = minor_version
        self._allocated = allocated

    @classmethod
    def strict(cls, hive_name: str, image: bytes | bytearray) -> Cells:
        """A strict reader of a whole image, from its base block and a walk of every hive bin."""
        base = read_base_block(image)
        size = base.hive_bins_data_size
        if BASE_BLOCK_SIZE + size > len(image):
            raise HiveCorrupt(f"{hive_name}: the base block declares {size} bytes of hive bins, the image holds "
                              f"{len(image) - BASE_BLOCK_SIZE}")
        cells = cls(hive_name, image, size, base.minor_version)
        cells._allocated = cells._allocation_map(size)
        return cells

    def _allocation_map(self, hive_bins_data_size: int) -> dict[int, int]:
        """regf spec, 'Hive bin' and 'Cell': offset -> data length of every allocated cell."""
        allocated: dict[int, int] = {}
        offset = 0
        while offset < hive_bins_data_size:
            start = BASE_BLOCK_SIZE + offset
            header = HIVE_BIN_HEADER.parse(self._view, start)
            if header.signature != HBIN_SIGNATURE or header.offset != offset or header.size < HIVE_BIN_ALIGNMENT \
                    or header.size % HIVE_BIN_ALIGNMENT or offset + header.size > hive_bins_data_size:
                raise self.corrupt(f"bad hive bin at {offset:#x}")
            cell = offset + HIVE_BIN_HEADER_SIZE
            while cell < offset + header.size:
                (size,) = _CELL_SIZE.unpack_from(self._view, BASE_BLOCK_SIZE + cell)
                length = abs(size)
                if length < _CELL_ALIGNMENT or length % _CELL_ALIGNMENT or cell + length > offset + header.size:
                    raise self.corrupt(f"bad cell size {size} at {cell:#x}")
                if size < 0:
                    allocated[cell] = length - _CELL_SIZE.size
                cell += length
            offset += header.size
        return allocated

    def track_free(self, offset: int) -> None:
        """The writer freed the cell at ``offset``: a strict reader no longer accepts it."""
        if self._allocated is not None:
            self._allocated.pop(offset, None)

    def track_allocated(self, offset: int, length: int) -> None:
        """The writer allocated a cell of ``length`` data bytes at ``offset``."""
        if self._allocated is not None:
            self._allocated[offset] = length

    def corrupt(self, message: str) -> HiveCorrupt:
        return HiveCorrupt(f"{self.hive_name}: {message}")

    def cell(self, offset: int, what: str) -> memoryview:
        """The data of the allocated cell at ``offset`` (without its 4-byte size field)."""
        start = BASE_BLOCK_SIZE + offset
        if self._allocated is not None:
            length = self._allocated.get(offset)
            if length is None:
                raise self.corrupt(f"{what} points to {offset:#x}, which is not the start of an allocated cell")
            return self._view[start + _CELL_SIZE.size:start + _CELL_SIZE.size + length]
        if offset % _CELL_ALIGNMENT or start + _CELL_SIZE.size > self._end:
            raise self.corrupt(f"{what} points to {offset:#x}, outside the hive bins data")
        (size,) = _CELL_SIZE.unpack_from(self._view, start)
        if size >= 0:
            raise self.corrupt(f"{what} points to {offset:#x}, which is not an allocated cell")
        if -size < _CELL_ALIGNMENT or start - size > self._end:
            raise self.corrupt(f"{what}: the cell at {offset:#x} has a bad size {-size}")
        return self._view[start + _CELL_SIZE.size:start - size]

    def is_allocated(self, offset: int) -> bool:
        """Whether an allocated cell (negative size) starts at ``offset``."""
        if self._allocated is not None:
            return offset in self._allocated
        start = BASE_BLOCK_SIZE + offset
        return start + _CELL_SIZE.size <= self._end and _CELL_SIZE.unpack_from(self._view, start)[0] < 0

    def key_node(self, offset: int, what: str) -> KeyNode:
        """regf spec, 'Key node': the key node cell at ``offset``, with its name."""
        data, name_length = self._named_record(offset, what, KEY_NODE_SIGNATURE, KEY_NODE_FIXED_SIZE,
                                               _KEY_NAME_LENGTH_AT, "key node")
        return KeyNode((*KEY_NODE.parse(data), bytes(data[KEY_NODE_FIXED_SIZE:KEY_NODE_FIXED_SIZE + name_length])))

    def _named_record(self, offset: int, what: str, signature: bytes, fixed_size: int, name_length_at: int,
                      kind: str) -> tuple[memoryview, int]:
        """A key node or key value cell: its data and name length, checked to hold the fixed part and the name."""
        data = self.cell(offset, what)
        if len(data) < fixed_size or data[:2] != signature:
            raise self.corrupt(f"{what}: the cell at {offset:#x} is not a {kind}")
        (name_length,) = _U16.unpack_from(data, name_length_at)
        if fixed_size + name_length > len(data):
            raise self.corrupt(f"{what}: the {kind} at {offset:#x} has a name longer than its cell")
        return data, name_length

    def subkeys(self, key_offset: int, node: KeyNode, what: str) -> list[SubkeyEntry]:
        """The subkeys of a key in list order, each with its name, without parsing whole key nodes.

        Finding one subkey means reading the name of every sibling (Services
        has hundreds), so only the signature, flags, Parent field and name are
        read here. regf spec, 'Key node': each subkey's Parent field points
        back at the key it is listed under; a bad list (yarp's BadListHive)
        shows only there.
        """
        entries = []
        for offset in self.subkey_offsets(key_offset, node, what):
            data, name_length = self._named_record(offset, f"{what}: a subkey", KEY_NODE_SIGNATURE,
                                                   KEY_NODE_FIXED_SIZE, _KEY_NAME_LENGTH_AT, "key node")
            if _U32.unpack_from(data, _KEY_PARENT_AT)[0] != key_offset:
                raise self.corrupt(f"{what}: the Parent field of the subkey at {offset:#x} does not point back "
                                   "at the key")
            (flags,) = _U16.unpack_from(data, _KEY_FLAGS_AT)
            raw = bytes(data[KEY_NODE_FIXED_SIZE:KEY_NODE_FIXED_SIZE + name_length])
            name = decode_name(raw, bool(flags & KEY_COMP_NAME))
            # Win32 "Structure of the Registry": a key name is never empty and never holds a backslash, the
            # path separator; such a subkey would alias its parent or another path.
            if not name or "\\" in name:
                raise self.corrupt(f"{what}: the subkey at {offset:#x} has the impossible name {name!r}")
            entries.append(SubkeyEntry(offset, name))
        return entries

    def subkey_offsets(self, key_offset: int, node: KeyNode, what: str) -> list[int]:
        """regf spec, 'Subkeys list': the offsets of a key's subkeys, in list order.

        Checked before regipy walks the same lists: each list fits its cell, an
        index root points only at leaves, no key is listed twice or under
        itself (a cycle), and the lists hold as many keys as the key node says.
        """
        count = node.number_of_subkeys
        if count == 0:
            return []
        top = self.cell(node.subkeys_list_offset, f"{what}: subkeys list")
        leaves = [(node.subkeys_list_offset, top)]
        if bytes(top[:2]) == INDEX_ROOT_SIGNATURE:
            offsets = self._list_elements(top, 4, node.subkeys_list_offset, what)
            if len(set(offsets)) != len(offsets):
                raise self.corrupt(f"{what}: the index root at {node.subkeys_list_offset:#x} lists a leaf twice")
            leaves = [(offset, self.cell(offset, f"{what}: subkeys list")) for offset in offsets]
        found: list[int] = []
        seen: set[int] = set()
        for offset, leaf in leaves:
            stride = LEAF_STRIDES.get(bytes(leaf[:2]))
            if stride is None:
                raise self.corrupt(f"{what}: the subkeys list at {offset:#x} has signature {bytes(leaf[:2])!r}")
            for element in self._list_elements(leaf, stride, offset, what):
                if element == key_offset or element in seen:
                    raise self.corrupt(f"{what}: the subkeys list at {offset:#x} lists "
                                       f"{'the key itself' if element == key_offset else 'a key twice'}")
                seen.add(element)
                found.append(element)
        if len(found) != count:
            raise self.corrupt(f"{what}: the subkeys lists hold {len(found)} keys, the key node says {count}")
        return found

    def _list_elements(self, body: memoryview, stride: int, offset: int, what: str) -> list[int]:
        (count,) = _U16.unpack_from(body, 2)
        if _LIST_HEADER + count * stride > len(body):
            raise self.corrupt(f"{what}: the list at {offset:#x} claims {count} elements, more than its cell holds")
        return [_U32.unpack_from(body, _LIST_HEADER + index * stride)[0] for index in range(count)]

    def key_values(self, list_offset: int, count: int, key: str, named: str | None = None) -> list[KeyValueCell]:
        """regf spec, 'Key values list' and 'Key value': the values of a key, in list order; ``key`` names it.
        With ``named``, only the first value of that name (any case), as Windows looks a value up: the list is
        read up to it, and the names of other lengths are not decoded (a scan of thousands of keys for one
        value each)."""
        if count == 0:
            return []
        what = f"{key}: values list"
        offsets = self.cell(list_offset, what)
        if count * 4 > len(offsets):
            raise self.corrupt(f"{what} at {list_offset:#x} is too small for {count} values")
        values = []
        wanted = None if named is None else fold_name(named)
        # the stored length of ``named``: one byte per character in a Latin-1 name, two per UTF-16 unit otherwise
        lengths = (0, 0) if named is None else (len(named), len(named.encode("utf-16-le", "surrogatepass")))
        for (offset,) in struct.iter_unpack("<I", offsets[:count * 4]):
            data, name_length = self._named_record(offset, f"{key}: value", KEY_VALUE_SIGNATURE,
                                                   KEY_VALUE_FIXED_SIZE, _VALUE_NAME_LENGTH_AT, "key value")
            # Field by field rather than through KEY_VALUE.parse: a lookup reads every value of a key.
            (flags,) = _U16.unpack_from(data, _VALUE_FLAGS_AT)
            if wanted is not None and name_length != lengths[0 if flags & VALUE_COMP_NAME else 1]:
                continue  # a name of another length cannot match
            value = KeyValueCell(
                offset=offset,
                name=decode_name(bytes(data[KEY_VALUE_FIXED_SIZE:KEY_VALUE_FIXED_SIZE + name_length]),
                                 bool(flags & VALUE_COMP_NAME)),
                data_type=_U32.unpack_from(data, _VALUE_DATA_TYPE_AT)[0],
                data_size=_U32.unpack_from(data, _VALUE_DATA_SIZE_AT)[0],
                data_offset=_U32.unpack_from(data, _VALUE_DATA_OFFSET_AT)[0],
            )
            if wanted is None:
                values.append(value)
            elif fold_name(value.name) == wanted:
                return [value]
        return values

    def value_data(self, value: KeyValueCell, key: str) -> bytes:
        """regf spec, 'Key value' / 'Data size', and 'Big data'. ``key`` names the key in errors."""
        what = f"{key}, value {value.name!r}"
        size = value.data_size & ~DATA_SIZE_INLINE
        if value.data_size & DATA_SIZE_INLINE:
            if size > _INLINE_MAX:
                raise self.corrupt(f"{what}: inline data of {size} bytes")
            return value.data_offset.to_bytes(_INLINE_MAX, "little")[:size]
        if size == 0:
            return b""
        data = self.cell(value.data_offset, f"{what}: data")
        if size > BIG_DATA_SEGMENT_SIZE and self.minor_version >= BIG_DATA_MIN_MINOR_VERSION \
                and data[:2] == BIG_DATA_SIGNATURE:
            return self._big_data(data, size, what)
        if size > len(data):
            raise self.corrupt(f"{what}: {size} bytes of data in a cell of {len(data)}")
        return bytes(data[:size])

    def _big_data(self, record: memoryview, size: int, what: str) -> bytes:
        if len(record) < len(BIG_DATA):
            raise self.corrupt(f"{what}: truncated big data record")
        header = BIG_DATA.parse(record)
        segments = self.cell(header.offset_of_list_of_segments, f"{what}: big data segment list")
        count = header.number_of_segments
        # All segments but the last are full-size (regf spec, 'Data segment'): the count must fit the size.
        if count * 4 > len(segments) or count * BIG_DATA_SEGMENT_SIZE < size:
            raise self.corrupt(f"{what}: big data with {count} segments cannot hold {size} bytes")
        parts = []
        remaining = size
        for (offset,) in struct.iter_unpack("<I", segments[:count * 4]):
            segment = self.cell(offset, f"{what}: big data segment")
            take = min(remaining, BIG_DATA_SEGMENT_SIZE)
            if take > len(segment):
                raise self.corrupt(f"{what}: big data segment at {offset:#x} is too small")
            parts.append(bytes(segment[:take]))
            remaining -= take
            if remaining == 0:
                break
        return b"".join(parts)
