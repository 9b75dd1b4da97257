"""Cell-level walk of a hive image, keeping the offsets the in-place editor needs.

regipy keeps no cell offsets and dissect.regf keeps them only on its cell API
(library-notes.md §5.2, §7.1), so the writer walks the hive itself (regf spec,
'Format of primary files'; write-path.md §6.3-6.4): from the base block's root
cell, through subkey lists (li, lf, lh, and ri one level deep) and values
lists. Every offset followed must be the start of an allocated cell found by a
pre-walk of all hive bins, and every cell must carry the expected signature.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from dissect.cstruct.types import Structure

from vhdfix.errors import HiveCorrupt
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.cells import decode_name, fold_name
from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    BIG_DATA_MIN_MINOR_VERSION,
    BIG_DATA_SEGMENT_SIZE,
    BIG_DATA_SIGNATURE,
    DATA_SIZE_INLINE,
    HBIN_SIGNATURE,
    KEY_NODE_FIXED_SIZE,
    KEY_NODE_SIGNATURE,
    KEY_VALUE_FIXED_SIZE,
    KEY_VALUE_SIGNATURE,
    VALUE_COMP_NAME,
    c_regf,
)

NO_CELL = 0xFFFFFFFF
KEY_COMP_NAME = 0x0020
SUBKEY_LISTS = {b"li": 4, b"lf": 8, b"lh": 8}  # signature -> element size (regf spec, 'Index leaf' .. 'Hash leaf')
INDEX_ROOT_SIGNATURE = b"ri"
SECURITY_SIGNATURE = b"sk"
_CELL_SIZE = struct.Struct("<i")
_CURRENT_CONTROL_SET = "CURRENTCONTROLSET"
_KEY_NAME_LENGTH_AT = c_regf.key_node.fields["key_name_length"].offset
_VALUE_NAME_LENGTH_AT = c_regf.key_value.fields["name_length"].offset


@dataclass(frozen=True)
class ValueCell:
    """A key value (vk) cell and where its data lies."""

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
        return BASE_BLOCK_SIZE + self.offset + 4


class HiveCells:
    """The allocated cells of one hive image (bytes), addressed by offset relative to the hive bins data."""

    def __init__(self, name: str, image: bytes | bytearray) -> None:
        self.name = name
        self.image = image
        base = read_base_block(image)
        self.root = base.root_cell_offset
        self.minor_version = base.minor_version
        self.hive_bins_size = base.hive_bins_data_size
        if BASE_BLOCK_SIZE + self.hive_bins_size > len(image):
            raise self.corrupt(f"the base block declares {self.hive_bins_size} bytes of hive bins, the image holds "
                               f"{len(image) - BASE_BLOCK_SIZE}")
        self.allocated = self._allocated_cells()

    def corrupt(self, message: str) -> HiveCorrupt:
        return HiveCorrupt(f"{self.name}: {message}")

    def _allocated_cells(self) -> dict[int, int]:
        """Offset -> data length of every allocated cell, from a walk of every hive bin."""
        cells: dict[int, int] = {}
        view = memoryview(self.image)
        offset = 0
        while offset < self.hive_bins_size:
            start = BASE_BLOCK_SIZE + offset
            header = c_regf.hive_bin_header(bytes(view[start:start + len(c_regf.hive_bin_header)]))
            if header.signature != HBIN_SIGNATURE or header.offset != offset or header.size < 4096 or \
                    header.size % 4096 or offset + header.size > self.hive_bins_size:
                raise self.corrupt(f"bad hive bin at {offset:#x}")
            cell = offset + len(c_regf.hive_bin_header)
            while cell < offset + header.size:
                (size,) = _CELL_SIZE.unpack_from(view, BASE_BLOCK_SIZE + cell)
                length = abs(size)
                if length < 8 or length % 8 or cell + length > offset + header.size:
                    raise self.corrupt(f"bad cell size {size} at {cell:#x}")
                if size < 0:
                    cells[cell] = length - 4
                cell += length
            offset += header.size
        return cells

    def cell(self, offset: int, what: str) -> memoryview:
        """The data of the allocated cell that starts at ``offset``."""
        length = self.allocated.get(offset)
        if length is None:
            raise self.corrupt(f"{what} points to {offset:#x}, which is not the start of an allocated cell")
        start = BASE_BLOCK_SIZE + offset + 4
        return memoryview(self.image)[start:start + length]

    def key_node(self, offset: int, what: str) -> Structure:
        data = self.cell(offset, what)
        if len(data) < KEY_NODE_FIXED_SIZE or data[:2] != KEY_NODE_SIGNATURE:
            raise self.corrupt(f"{what}: the cell at {offset:#x} is not a key node")
        (name_length,) = struct.unpack_from("<H", data, _KEY_NAME_LENGTH_AT)
        if KEY_NODE_FIXED_SIZE + name_length > len(data):
            raise self.corrupt(f"{what}: the key node at {offset:#x} has a name longer than its cell")
        return c_regf.key_node(bytes(data[:KEY_NODE_FIXED_SIZE + name_length]))

    def key_name(self, node: Structure) -> str:
        return decode_name(node.key_name_string, bool(node.flags & KEY_COMP_NAME))

    def subkeys(self, node: Structure, what: str) -> list[int]:
        """Offsets of the key's subkeys, checked against its subkey count."""
        if node.number_of_subkeys == 0:
            return []
        found = self._list(node.subkeys_list_offset, f"{what}: subkeys list", allow_root=True)
        if len(found) != node.number_of_subkeys:
            raise self.corrupt(f"{what}: {node.number_of_subkeys} subkeys declared, {len(found)} listed")
        return found

    def _list(self, offset: int, what: str, allow_root: bool) -> list[int]:
        data = self.cell(offset, what)
        signature = bytes(data[:2])
        count = struct.unpack_from("<H", data, 2)[0]
        if signature == INDEX_ROOT_SIGNATURE and allow_root:
            if 4 + 4 * count > len(data):
                raise self.corrupt(f"{what} at {offset:#x} is too small")
            out: list[int] = []
            for (child,) in struct.iter_unpack("<I", data[4:4 + 4 * count]):
                out += self._list(child, f"{what} (ri element)", allow_root=False)
            return out
        size = SUBKEY_LISTS.get(signature)
        if size is None or 4 + size * count > len(data):
            raise self.corrupt(f"{what} at {offset:#x} is not a subkeys list ({signature!r}, {count} elements)")
        return [struct.unpack_from("<I", data, 4 + size * index)[0] for index in range(count)]

    def values(self, node: Structure, what: str) -> list[ValueCell]:
        count = node.number_of_key_values
        if count == 0:
            return []
        offsets = self.cell(node.key_values_list_offset, f"{what}: values list")
        if 4 * count > len(offsets):
            raise self.corrupt(f"{what}: values list too small for {count} values")
        out = []
        for (offset,) in struct.iter_unpack("<I", offsets[:4 * count]):
            data = self.cell(offset, f"{what}: value")
            if len(data) < KEY_VALUE_FIXED_SIZE or data[:2] != KEY_VALUE_SIGNATURE:
                raise self.corrupt(f"{what}: the cell at {offset:#x} is not a key value")
            (name_length,) = struct.unpack_from("<H", data, _VALUE_NAME_LENGTH_AT)
            if KEY_VALUE_FIXED_SIZE + name_length > len(data):
                raise self.corrupt(f"{what}: the value at {offset:#x} has a name longer than its cell")
            value = c_regf.key_value(bytes(data[:KEY_VALUE_FIXED_SIZE + name_length]))
            name = decode_name(value.name, bool(value.flags & VALUE_COMP_NAME))
            out.append(ValueCell(offset, name, value.data_type, value.data_size, value.data_offset))
        return out

    def value_data(self, value: ValueCell, what: str) -> bytes:
        """The data of a value: inline, in one cell, or in big-data segments."""
        size = value.length
        if value.inline:
            if size > 4:
                raise self.corrupt(f"{what}: inline data of {size} bytes")
            return value.data_offset.to_bytes(4, "little")[:size]
        if size == 0:
            return b""
        data = self.cell(value.data_offset, f"{what}: data")
        if size > BIG_DATA_SEGMENT_SIZE and self.minor_version >= BIG_DATA_MIN_MINOR_VERSION and \
                data[:2] == BIG_DATA_SIGNATURE:
            count, segments_at = struct.unpack_from("<HI", data, 2)
            segments = self.cell(segments_at, f"{what}: big data segment list")
            if 4 * count > len(segments) or count * BIG_DATA_SEGMENT_SIZE < size:
                raise self.corrupt(f"{what}: big data with {count} segments cannot hold {size} bytes")
            parts = []
            for (segment,) in struct.iter_unpack("<I", segments[:4 * count]):
                parts.append(bytes(self.cell(segment, f"{what}: big data segment")[:BIG_DATA_SEGMENT_SIZE]))
            joined = b"".join(parts)
            if len(joined) < size:
                raise self.corrupt(f"{what}: big data segments hold {len(joined)} of {size} bytes")
            return joined[:size]
        if size > len(data):
            raise self.corrupt(f"{what}: {size} bytes of data in a cell of {len(data)}")
        return bytes(data[:size])

    def find_key(self, path: str) -> tuple[int, str] | None:
        """The key node offset and stored path of ``path`` (any case, ``CurrentControlSet`` resolved)."""
        parts = [part for part in path.split("\\") if part]
        if parts and fold_name(parts[0]) == _CURRENT_CONTROL_SET:
            current = self._current_control_set()
            if current is None:
                return None
            parts[0] = current
        offset, stored = self.root, ""
        for part in parts:
            node = self.key_node(offset, f"key {stored or 'root'!r}")
            wanted = fold_name(part)
            for child in self.subkeys(node, f"key {stored or 'root'!r}"):
                child_node = self.key_node(child, f"a subkey of {stored or 'root'!r}")
                name = self.key_name(child_node)
                if fold_name(name) == wanted:
                    offset, stored = child, f"{stored}\\{name}" if stored else name
                    break
            else:
                return None
        return offset, stored

    def find_value(self, key_offset: int, name: str, what: str) -> ValueCell | None:
        wanted = fold_name(name)
        node = self.key_node(key_offset, what)
        return next((value for value in self.values(node, what) if fold_name(value.name) == wanted), None)

    def _current_control_set(self) -> str | None:
        select = self.find_key("Select")
        if select is None:
            return None
        current = self.find_value(select[0], "Current", "key 'Select'")
        if current is None or current.data_type != 4 or not current.inline or current.length != 4:
            return None
        return f"ControlSet{current.data_offset:03d}"

    def walk(self) -> Iterator[tuple[str, list[ValueCell]]]:
        """Every key (stored path) with its values, each value's data read; raises HiveCorrupt on any bad cell."""
        stack = [(self.root, "")]
        seen: set[int] = set()
        while stack:
            offset, path = stack.pop()
            if offset in seen:
                raise self.corrupt(f"key {path!r} at {offset:#x} is reached twice (a loop in the key tree)")
            seen.add(offset)
            what = f"key {path or 'root'!r}"
            node = self.key_node(offset, what)
            security = self.cell(node.key_security_offset, f"{what}: key security")
            if security[:2] != SECURITY_SIGNATURE:
                raise self.corrupt(f"{what}: the key security cell is not an sk cell")
            if node.class_name_offset != NO_CELL and node.class_name_length:
                self.cell(node.class_name_offset, f"{what}: class name")
            values = self.values(node, what)
            for value in values:
                self.value_data(value, f"{what}, value {value.name!r}")
            yield path, values
            for child in self.subkeys(node, what):
                child_node = self.key_node(child, f"a subkey of {what}")
                if child_node.parent != offset:
                    raise self.corrupt(f"{what}: subkey at {child:#x} names parent {child_node.parent:#x}")
                name = self.key_name(child_node)
                stack.append((child, f"{path}\\{name}" if path else name))
