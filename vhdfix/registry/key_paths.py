"""Key paths to key cells: case-insensitive names, ``CurrentControlSet`` through ``Select\\Current``.

The one path resolver of vhdfix, over :class:`Cells`: the reader (hive.py)
and the writer (in-place edits, verification) find keys and values the same
way, so they cannot disagree about which key a path names. Each key's subkey
index is built once, on first use, and kept until the writer changes the key
structure (:meth:`KeyPaths.forget`).
"""

from __future__ import annotations

from collections.abc import Iterator

from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.cells import NO_CELL, Cells, KeyValueCell, SubkeyEntry, fold_name
from vhdfix.registry.regf_format import REG_DWORD
from vhdfix.registry.values import typed_value

_CURRENT_CONTROL_SET = "CURRENTCONTROLSET"
_SECURITY_SIGNATURE = b"sk"  # regf spec, 'Key security'


class KeyPaths:
    """Resolves key paths (relative to the hive root, backslash-separated, any case) to key cell offsets."""

    def __init__(self, cells: Cells, root_offset: int) -> None:
        self.cells = cells
        self.root_offset = root_offset
        self._children: dict[int, tuple[list[SubkeyEntry], dict[str, SubkeyEntry]]] = {}
        self._found: dict[tuple[str, ...], tuple[int, str] | None] = {}
        self._current_control_set: str | None = None
        self._current_control_set_known = False

    @classmethod
    def strict(cls, hive_name: str, image: bytes | bytearray) -> KeyPaths:
        """Paths over a strict cell reader of a whole image (every offset must start an allocated cell)."""
        return cls(Cells.strict(hive_name, image), read_base_block(image).root_cell_offset)

    def forget(self) -> None:
        """Drop every cached subkey index and path (a key was deleted)."""
        self._children.clear()
        self._found.clear()

    @property
    def current_control_set(self) -> str | None:
        """``ControlSetNNN`` named by ``Select\\Current``, or None when there is none (not a SYSTEM hive)."""
        if not self._current_control_set_known:
            self._current_control_set_known = True
            select = self.find_key("Select")
            current = None if select is None else self.find_value(select[0], "Current", "key 'Select'")
            if current is not None and current.data_type == REG_DWORD:
                number = typed_value(REG_DWORD, self.cells.value_data(current, "key 'Select'"))
                if isinstance(number, int):
                    self._current_control_set = f"ControlSet{number:03d}"
        return self._current_control_set

    def find_key(self, path: str) -> tuple[int, str] | None:
        """The key node offset and the stored path (names as stored) of ``path``, or None when it does not exist."""
        parts = [part for part in path.split("\\") if part]
        if parts and fold_name(parts[0]) == _CURRENT_CONTROL_SET:
            control_set = self.current_control_set
            if control_set is None:
                return None
            parts[0] = control_set
        folded = tuple(fold_name(part) for part in parts)
        if folded in self._found:
            return self._found[folded]
        offset, stored = self.root_offset, ""
        for depth, part in enumerate(folded):
            child = self.subkey_index(offset, stored)[1].get(part)
            if child is None:
                self._found[folded] = None
                return None
            offset, stored = child.offset, f"{stored}\\{child.name}" if stored else child.name
            self._found[folded[:depth + 1]] = (offset, stored)
        self._found[folded] = (offset, stored)
        return offset, stored

    def subkey_index(self, offset: int, stored_path: str) -> tuple[list[SubkeyEntry], dict[str, SubkeyEntry]]:
        """A key's subkeys in list order, and by folded name (the first of duplicates wins)."""
        known = self._children.get(offset)
        if known is None:
            what = f"key {stored_path or 'root'!r}"
            entries = self.cells.subkeys(offset, self.cells.key_node(offset, what), what)
            index: dict[str, SubkeyEntry] = {}
            for entry in entries:
                index.setdefault(fold_name(entry.name), entry)
            known = self._children[offset] = (entries, index)
        return known

    def values(self, key_offset: int, what: str) -> list[KeyValueCell]:
        """The key's values in list order, read afresh (the writer changes value cells in place)."""
        node = self.cells.key_node(key_offset, what)
        return self.cells.key_values(node.key_values_list_offset, node.number_of_key_values, what)

    def find_value(self, key_offset: int, name: str, what: str) -> KeyValueCell | None:
        """The value ``name`` ("" for the default value) of the key at ``key_offset``, any case."""
        node = self.cells.key_node(key_offset, what)
        return value_named(self.cells.key_values(node.key_values_list_offset, node.number_of_key_values, what,
                                                 named=name), name)

    def walk(self) -> Iterator[tuple[str, list[KeyValueCell]]]:
        """Every key (stored path) with its values, every cell read; raises HiveCorrupt on any bad cell."""
        stack = [(self.root_offset, "")]
        seen: set[int] = set()
        while stack:
            offset, path = stack.pop()
            if offset in seen:
                raise self.cells.corrupt(f"key {path!r} at {offset:#x} is reached twice (a loop in the key tree)")
            seen.add(offset)
            what = f"key {path or 'root'!r}"
            node = self.cells.key_node(offset, what)
            if self.cells.cell(node.key_security_offset, f"{what}: key security")[:2] != _SECURITY_SIGNATURE:
                raise self.cells.corrupt(f"{what}: the key security cell is not an sk cell")
            if node.class_name_offset != NO_CELL and node.class_name_length:
                self.cells.cell(node.class_name_offset, f"{what}: class name")
            values = self.cells.key_values(node.key_values_list_offset, node.number_of_key_values, what)
            for value in values:
                self.cells.value_data(value, what)
            yield path, values
            for child in self.cells.subkeys(offset, node, what):
                stack.append((child.offset, f"{path}\\{child.name}" if path else child.name))


def value_named(values: list[KeyValueCell], name: str) -> KeyValueCell | None:
    """The first of ``values`` called ``name``, any case (the first of duplicates, as in list order)."""
    wanted = fold_name(name)
    return next((value for value in values if fold_name(value.name) == wanted), None)
