"""Hive structures: base blocks (checksum resealed), hive bins, the cells on vhdfix's lookup paths plus a
sample of the rest, and HvLE log entries (Marvin32 hashes resealed)."""

from __future__ import annotations

import struct
from collections.abc import Callable

from tests.fuzz.model import Extent, Field, Unit, int_fields
from vhdfix.layout import Layout
from vhdfix.registry.base_block import checksum
from vhdfix.registry.marvin32 import marvin32
from vhdfix.registry.regf_format import CHECKSUMMED_SIZE, KEY_NODE, KEY_VALUE

ToExtents = Callable[[int, int], tuple[Extent, ...]]  # (offset in the hive file, length) -> extents in the seed file
BASE_FIELDS = ((4, 4, "primary_sequence_number"), (8, 4, "secondary_sequence_number"), (12, 8, "timestamp"),
               (20, 4, "major_version"), (24, 4, "minor_version"), (28, 4, "file_type"), (32, 4, "file_format"),
               (36, 4, "root_cell_offset"), (40, 4, "hive_bins_data_size"), (44, 4, "clustering_factor"),
               (144, 4, "flags"))
KEY_NODE_FIELDS = ("flags", "parent", "number_of_subkeys", "number_of_volatile_subkeys", "subkeys_list_offset",
                   "number_of_key_values", "key_values_list_offset", "key_security_offset", "class_name_offset",
                   "key_name_length", "class_name_length")
KEY_VALUE_FIELDS = ("name_length", "data_size", "data_offset", "data_type", "flags")
ENTRY_FIELDS = ((4, 4, "size"), (8, 4, "flags"), (12, 4, "sequence_number"), (16, 4, "hive_bins_data_size"),
                (20, 4, "dirty_pages_count"))
LOOKUP_PATHS = ("Select", "Setup\\Status\\ChildCompletion", "Setup\\Status\\SysprepStatus",
                "ControlSet001\\Control\\ComputerName\\ComputerName",
                "Microsoft\\Windows\\CurrentVersion\\Setup\\State", "Microsoft\\Windows NT\\CurrentVersion")
SAMPLE_CELLS = 150
MAX_ELEMENTS = 16


def _fields_of(structure: Layout, names: tuple[str, ...], hints: dict[str, tuple[int, ...]]) -> list[Field]:
    layout = [(4 + structure.fields[name].offset, structure.fields[name].size, name) for name in names]
    return int_fields("", 0, layout, hints=hints)


def _base_seal(data: bytearray) -> None:
    struct.pack_into("<I", data, CHECKSUMMED_SIZE, checksum(data))


def _entry_seal(data: bytearray) -> None:
    size = struct.unpack_from("<I", data, 4)[0]
    end = min(len(data), size) if size >= 40 else len(data)
    struct.pack_into("<Q", data, 24, marvin32(bytes(data[40:end])))
    struct.pack_into("<Q", data, 32, marvin32(bytes(data[:32])))


class _Hive:
    """Just enough of a hive walker to find the cells on the lookup paths."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def cell(self, offset: int) -> tuple[int, bytes] | None:
        at = 4096 + offset
        if offset % 8 or at + 4 > len(self.data):
            return None
        size = struct.unpack_from("<i", self.data, at)[0]
        if size >= 0 or at - size > len(self.data):
            return None
        return -size, self.data[at + 4:at - size]

    def subkeys(self, offset: int) -> tuple[list[int], list[int]]:
        """(list cells, key node offsets) of the key at ``offset``."""
        found = self.cell(offset)
        if found is None or found[1][:2] != b"nk":
            return [], []
        count, list_at = struct.unpack_from("<I4xI", found[1], 20)
        if not count:
            return [], []
        lists, keys = [list_at], []
        pending = [list_at]
        while pending and len(lists) < 64:
            cell = self.cell(pending.pop())
            if cell is None:
                continue
            body = cell[1]
            signature, number = body[:2], struct.unpack_from("<H", body, 2)[0]
            if signature in (b"lf", b"lh"):
                keys += [struct.unpack_from("<I", body, 4 + 8 * i)[0] for i in range(number) if 8 + 8 * i <= len(body)]
            elif signature in (b"li", b"ri"):
                items = [struct.unpack_from("<I", body, 4 + 4 * i)[0] for i in range(number) if 8 + 4 * i <= len(body)]
                if signature == b"ri":
                    lists += items
                    pending += items
                else:
                    keys += items
        return lists, keys

    def name(self, offset: int) -> str:
        found = self.cell(offset)
        if found is None or found[1][:2] != b"nk":
            return ""
        length, flags = struct.unpack_from("<H", found[1], 72)[0], struct.unpack_from("<H", found[1], 2)[0]
        raw = found[1][76:76 + length]
        return (raw.decode("latin-1") if flags & 0x20 else raw.decode("utf-16-le", "replace")).upper()

    def interesting(self, root: int) -> set[int]:
        """Cells on the lookup paths: keys, their subkey lists, value lists, values and value data."""
        cells = {root}
        for path in LOOKUP_PATHS:
            key = root
            for part in path.upper().split("\\"):
                lists, keys = self.subkeys(key)
                cells.update(lists)
                match = next((child for child in keys if self.name(child) == part), None)
                if match is None:
                    break
                key = match
                cells.add(key)
                cells.update(self._values(key))
        return cells

    def _values(self, key: int) -> set[int]:
        found = self.cell(key)
        assert found is not None
        count, list_at = struct.unpack_from("<II", found[1], 36)
        cells = {list_at} if count else set()
        values = self.cell(list_at) if count else None
        for index in range(min(count, 32) if values else 0):
            if 4 * index + 4 <= len(values[1]):
                value_at = struct.unpack_from("<I", values[1], 4 * index)[0]
                cells.add(value_at)
                value = self.cell(value_at)
                if value and value[1][:2] == b"vk" and not struct.unpack_from("<I", value[1], 4)[0] & 0x80000000:
                    cells.add(struct.unpack_from("<I", value[1], 8)[0])
        return cells

    def all_cells(self) -> list[int]:
        cells = []
        position = 0
        end = min(len(self.data) - 4096, struct.unpack_from("<I", self.data, 40)[0])
        while position < end:
            size = struct.unpack_from("<I", self.data, 4096 + position + 8)[0]
            if self.data[4096 + position:4096 + position + 4] != b"hbin" or size < 4096:
                break
            at = position + 32
            while at < position + size:
                cell_size = abs(struct.unpack_from("<i", self.data, 4096 + at)[0])
                if cell_size < 8:
                    break
                cells.append(at)
                at += cell_size
            position += size
        return cells


def primary_units(file: str, data: bytes, to_extents: ToExtents, label: str) -> list[Unit]:
    """Units of a primary hive file whose bytes are ``data``."""
    hive = _Hive(data)
    root = struct.unpack_from("<I", data, 36)[0]
    all_cells = hive.all_cells()
    focus = hive.interesting(root) if hive.cell(root) else set()
    keys = tuple(offset for offset in sorted(focus) if (hive.cell(offset) or (0, b""))[1][:2] == b"nk")
    sample = set(all_cells[::max(1, len(all_cells) // SAMPLE_CELLS)])
    units = [Unit(f"{label}.base_block", file, to_extents(0, 512),
                  tuple(int_fields("", 0, BASE_FIELDS, hints={"root_cell_offset": (0x20, 0, *keys[:4]),
                                                              "hive_bins_data_size": (0, 4096, len(data),
                                                                                      len(data) * 4)})),
                  _base_seal, weight=3)]
    position = 0
    for _ in range(8):
        if data[4096 + position:4096 + position + 4] != b"hbin":
            break
        size = struct.unpack_from("<I", data, 4096 + position + 8)[0]
        units.append(Unit(f"{label}.hbin@{position:#x}", file, to_extents(4096 + position, 32),
                          tuple(int_fields("", 0, ((4, 4, "offset"), (8, 4, "size")),
                                           hints={"size": (0, 4096, 1 << 31)}))))
        position += max(size, 4096)
    for offset in sorted(focus | sample):
        found = hive.cell(offset)
        if found is None:
            continue
        size, body = found
        fields = _cell_fields(body, offset, keys)
        units.append(Unit(f"{label}.cell@{offset:#x}:{body[:2].decode('latin-1')}", file,
                          to_extents(4096 + offset, size), (Field(0, 4, "cell_size", hints=(0, 8, 0x7FFFFFF8)),
                                                            *fields), weight=3.0 if offset in focus else 0.5))
    return units


def _cell_fields(body: bytes, offset: int, keys: tuple[int, ...]) -> list[Field]:
    signature = body[:2]
    if signature == b"nk":
        return _fields_of(KEY_NODE, KEY_NODE_FIELDS, {"parent": (offset, 0, 0x20, *keys[:3]),
                                                      "subkeys_list_offset": (offset, 0xFFFFFFFF, 0x20),
                                                      "number_of_subkeys": (0, 1, 0xFFFF, 0xFFFFFFFF),
                                                      "key_values_list_offset": (offset, 0xFFFFFFFF)})
    if signature == b"vk":
        return _fields_of(KEY_VALUE, KEY_VALUE_FIELDS, {"data_size": (0, 4, 0x80000004, 0x80000005, 16345, 0x7FFFFFFF),
                                                        "data_offset": (offset, 0, 0xFFFFFFFF),
                                                        "data_type": (1, 3, 4, 7, 11)})
    count = Field(6, 2, "count", hints=(0, 1, 0xFFFF))
    if signature in (b"lf", b"lh"):
        return [count] + [Field(8 + 8 * i, 4, f"element{i}", hints=(offset, *keys))
                          for i in range(min(MAX_ELEMENTS, (len(body) - 4) // 8))]
    if signature in (b"li", b"ri"):
        return [count] + [Field(8 + 4 * i, 4, f"element{i}", hints=(offset, *keys))
                          for i in range(min(MAX_ELEMENTS, (len(body) - 4) // 4))]
    if signature == b"db":
        return [count, Field(8, 4, "segments_list", hints=(offset, 0xFFFFFFFF))]
    return [Field(4 + 4 * i, 4, f"word{i}", hints=(offset, *keys)) for i in range(min(MAX_ELEMENTS, len(body) // 4))]


def log_units(file: str, data: bytes, to_extents: ToExtents, label: str) -> list[Unit]:
    """Units of a transaction log: its base block, HvLE entries, or an old-format dirty vector."""
    if len(data) < 512:
        return []
    units = [Unit(f"{label}.base_block", file, to_extents(0, 512),
                  tuple(int_fields("", 0, BASE_FIELDS, hints={"file_type": (0, 1, 6)})), _base_seal, weight=2)]
    if data[512:516] == b"DIRT":
        units.append(Unit(f"{label}.dirty_vector", file, to_extents(512, min(4096, len(data) - 512))))
        return units
    offset = 512
    while offset + 40 <= len(data) and data[offset:offset + 4] == b"HvLE":
        size, count = struct.unpack_from("<I", data, offset + 4)[0], struct.unpack_from("<I", data, offset + 20)[0]
        if size < 512 or offset + size > len(data):
            break
        fields = int_fields("", 0, ENTRY_FIELDS, hints={"size": (0, 512, size + 512, 1 << 31)})
        for index in range(min(count, MAX_ELEMENTS)):
            fields += int_fields(f"page{index}.", 40 + 8 * index, ((0, 4, "offset"), (4, 4, "size")),
                                 hints={"offset": (0, 0xFFFFF000), "size": (0, 512, 4096, 0xFFFFF000)})
        units.append(Unit(f"{label}.entry@{offset:#x}", file, to_extents(offset, size), tuple(fields), _entry_seal,
                          weight=3))
        offset += size
    return units
