"""Bounded reads of cells by offset: key nodes, and the key values of a key with their data.

regipy walks the key tree; these reads cover what it does not expose or check:
the raw data of values, the cell signatures, and the cell bounds. Every offset
and length read from the hive is checked before use; a bad one raises
:class:`HiveCorrupt`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dissect.cstruct.types import Structure

from vhdfix.errors import HiveCorrupt
from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    BIG_DATA_MIN_MINOR_VERSION,
    BIG_DATA_SEGMENT_SIZE,
    BIG_DATA_SIGNATURE,
    DATA_SIZE_INLINE,
    KEY_NODE_FIXED_SIZE,
    KEY_NODE_SIGNATURE,
    KEY_VALUE_FIXED_SIZE,
    KEY_VALUE_SIGNATURE,
    VALUE_COMP_NAME,
    c_regf,
)

_CELL_SIZE = struct.Struct("<i")  # regf spec, 'Cell': i32 size, negative when allocated
_CELL_ALIGNMENT = 8
_INLINE_MAX = 4
_NAME_LENGTH = struct.Struct("<H")  # read first: the structures end with a name of that length
_LIST_COUNT = struct.Struct("<H")  # regf spec, 'Index leaf' and friends: signature, then the element count
_OFFSET = struct.Struct("<I")
_LIST_HEADER = 4
INDEX_ROOT_SIGNATURE = b"ri"
LEAF_STRIDES = {b"li": 4, b"lf": 8, b"lh": 8}  # offset only, or offset + name hint / name hash
_KEY_NAME_LENGTH_AT = c_regf.key_node.fields["key_name_length"].offset
_VALUE_NAME_LENGTH_AT = c_regf.key_value.fields["name_length"].offset


def fold_name(name: str) -> str:
    """Case-insensitive form of a key or value name (Windows upcases each character)."""
    if name.isascii():
        return name.upper()
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in name)


def decode_name(raw: bytes, ascii_flag: bool) -> str:
    """Key and value names: 'extended ASCII' (Latin-1) when the flag is set, else UTF-16LE."""
    return raw.decode("latin-1") if ascii_flag else raw.decode("utf-16-le", errors="replace")


@dataclass(frozen=True)
class KeyValueCell:
    """A key value cell (vk) with its decoded name; the data is read on demand."""

    name: str
    data_type: int
    data_size: int
    data_offset: int


class Cells:
    """The allocated cells of one hive image, addressed by offset relative to the hive bins data."""

    def __init__(self, hive_name: str, data: bytes, hive_bins_data_size: int, minor_version: int) -> None:
        self._hive_name = hive_name
        self._view = memoryview(data)
        self._end = min(len(data), BASE_BLOCK_SIZE + hive_bins_data_size)
        self._minor_version = minor_version

    def corrupt(self, message: str) -> HiveCorrupt:
        return HiveCorrupt(f"{self._hive_name}: {message}")

    def cell(self, offset: int, what: str) -> memoryview:
        """The data of the allocated cell at ``offset`` (without its 4-byte size field)."""
        start = BASE_BLOCK_SIZE + offset
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
        start = BASE_BLOCK_SIZE + offset
        return start + _CELL_SIZE.size <= self._end and _CELL_SIZE.unpack_from(self._view, start)[0] < 0

    def key_node(self, offset: int, what: str) -> Structure:
        """regf spec, 'Key node': a ``c_regf.key_node``."""
        data = self.cell(offset, what)
        if len(data) < KEY_NODE_FIXED_SIZE or data[:2] != KEY_NODE_SIGNATURE:
            raise self.corrupt(f"{what}: the cell at {offset:#x} is not a key node")
        (name_length,) = _NAME_LENGTH.unpack_from(data, _KEY_NAME_LENGTH_AT)
        if KEY_NODE_FIXED_SIZE + name_length > len(data):
            raise self.corrupt(f"{what}: the key node at {offset:#x} has a name longer than its cell")
        return c_regf.key_node(bytes(data[:KEY_NODE_FIXED_SIZE + name_length]))

    def subkey_offsets(self, key_offset: int, node: Structure, what: str) -> list[int]:
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
        (count,) = _LIST_COUNT.unpack_from(body, 2)
        if _LIST_HEADER + count * stride > len(body):
            raise self.corrupt(f"{what}: the list at {offset:#x} claims {count} elements, more than its cell holds")
        return [_OFFSET.unpack_from(body, _LIST_HEADER + index * stride)[0] for index in range(count)]

    def key_values(self, list_offset: int, count: int, key_path: str) -> list[KeyValueCell]:
        """regf spec, 'Key values list' and 'Key value': the values of a key, in list order."""
        if count == 0:
            return []
        what = f"key {key_path!r}: values list"
        offsets = self.cell(list_offset, what)
        if count * 4 > len(offsets):
            raise self.corrupt(f"{what} at {list_offset:#x} is too small for {count} values")
        values = []
        for (offset,) in struct.iter_unpack("<I", offsets[:count * 4]):
            data = self.cell(offset, f"key {key_path!r}: value")
            if len(data) < KEY_VALUE_FIXED_SIZE or data[:2] != KEY_VALUE_SIGNATURE:
                raise self.corrupt(f"key {key_path!r}: the cell at {offset:#x} is not a key value")
            (name_length,) = _NAME_LENGTH.unpack_from(data, _VALUE_NAME_LENGTH_AT)
            if KEY_VALUE_FIXED_SIZE + name_length > len(data):
                raise self.corrupt(f"key {key_path!r}: the key value at {offset:#x} has a name longer than its cell")
            header = c_regf.key_value(bytes(data[:KEY_VALUE_FIXED_SIZE + name_length]))
            values.append(KeyValueCell(
                name=decode_name(header.name, bool(header.flags & VALUE_COMP_NAME)),
                data_type=header.data_type,
                data_size=header.data_size,
                data_offset=header.data_offset,
            ))
        return values

    def value_data(self, value: KeyValueCell, key_path: str) -> bytes:
        """regf spec, 'Key value' / 'Data size', and 'Big data'."""
        what = f"key {key_path!r}, value {value.name!r}"
        size = value.data_size & ~DATA_SIZE_INLINE
        if value.data_size & DATA_SIZE_INLINE:
            if size > _INLINE_MAX:
                raise self.corrupt(f"{what}: inline data of {size} bytes")
            return value.data_offset.to_bytes(_INLINE_MAX, "little")[:size]
        if size == 0:
            return b""
        data = self.cell(value.data_offset, f"{what}: data")
        if size > BIG_DATA_SEGMENT_SIZE and self._minor_version >= BIG_DATA_MIN_MINOR_VERSION \
                and data[:2] == BIG_DATA_SIGNATURE:
            return self._big_data(data, size, what)
        if size > len(data):
            raise self.corrupt(f"{what}: {size} bytes of data in a cell of {len(data)}")
        return bytes(data[:size])

    def _big_data(self, record: memoryview, size: int, what: str) -> bytes:
        if len(record) < len(c_regf.big_data):
            raise self.corrupt(f"{what}: truncated big data record")
        header = c_regf.big_data(bytes(record[:len(c_regf.big_data)]))
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
