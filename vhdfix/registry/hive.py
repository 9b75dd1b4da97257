"""An offline hive, read as Windows would read it after its own log recovery.

:func:`open_hive` recovers the hive (recovery.py), checks the recovered image,
and reads it behind a small adapter: case-insensitive key paths and value
names, ``CurrentControlSet`` resolved through ``Select\\Current``, typed
values with their raw data. Keys are found through the hive's own subkey lists
(key_paths.py over cells.py); each key reported is parsed by regipy (the
product owner's choice of parser) and checked against the same cell as vhdfix
reads it. regipy's own tree walk is not used: it parses every sibling to find
one key, and trusts counts and offsets (KNOWN_ISSUES.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import TYPE_CHECKING

from vhdfix.errors import HiveCorrupt, foreign_errors
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.cells import Cells, KeyNode, KeyValueCell, decode_name
from vhdfix.registry.key_paths import KeyPaths, value_named
from vhdfix.registry.log_file import LogReport
from vhdfix.registry.recovery import RecoveryResult, State, recover
from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    FILE_TYPE_PRIMARY,
    HBIN_SIGNATURE,
    HIVE_BIN_ALIGNMENT,
    KEY_NODE_SIGNATURE,
    REGF_SIGNATURE,
)
from vhdfix.registry.values import RegistryValue, registry_value

if TYPE_CHECKING:
    from regipy.registry import NKRecord

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
# regipy's Cell.offset is where a record starts after its cell's size field and two-byte signature.
_REGIPY_RECORD_START = BASE_BLOCK_SIZE + 4 + len(KEY_NODE_SIGNATURE)


@dataclass(frozen=True)
class RegistryKey:
    """A key: ``path`` has the names as stored, from the hive root ("" for the root key itself)."""

    path: str
    name: str
    last_written: datetime
    subkey_count: int
    value_count: int


def open_hive(name: str, primary: bytes, logs: Sequence[tuple[str, bytes]] = ()) -> Hive:
    """Recover and open a hive; ``logs`` are ``(file name, bytes)`` of its .LOG/.LOG1/.LOG2 files.

    Raises :class:`HiveCorrupt` when the (recovered) image is not a usable
    hive. Invalid logs are not fatal: they show in ``Hive.warnings`` and
    ``Hive.logs``, and a dirty hive without a usable log is read as it is
    (``state == "dirty-no-log"``).
    """
    try:
        result = recover(primary, logs)
    except HiveCorrupt as exc:
        raise HiveCorrupt(f"{name}: {exc.message}") from None
    data = result.data
    base = read_base_block(data)
    if base.signature != REGF_SIGNATURE:
        raise HiveCorrupt(f"{name}: not a registry hive (signature {base.signature!r})")
    if base.valid and base.file_type != FILE_TYPE_PRIMARY:
        raise HiveCorrupt(f"{name}: file type {base.file_type}: a transaction log, not a primary hive file")
    size = base.hive_bins_data_size
    if size == 0 or size % HIVE_BIN_ALIGNMENT:
        raise HiveCorrupt(f"{name}: bad hive bins data size {size:#x}")
    if BASE_BLOCK_SIZE + size > len(data):
        raise HiveCorrupt(f"{name}: truncated: the base block declares {size} bytes of hive bins, "
                          f"the file holds {len(data) - BASE_BLOCK_SIZE}")
    if data[BASE_BLOCK_SIZE:BASE_BLOCK_SIZE + len(HBIN_SIGNATURE)] != HBIN_SIGNATURE:
        raise HiveCorrupt(f"{name}: no hive bin after the base block")
    cells = Cells(name, data, size, base.minor_version)
    cells.key_node(base.root_cell_offset, "the base block's root cell")
    return Hive(name, result, KeyPaths(cells, base.root_cell_offset))


def _same_key_node(record: NKRecord, node: KeyNode) -> bool:
    """Is regipy's key node ``record`` the key node ``node`` read by cells.py? (regipy keeps no cell offsets.)"""
    header = record.header
    return (
        header.key_name_string == node.key_name_string
        and header.last_modified == node.last_written_timestamp
        and header.parent_key_offset == node.parent
        and header.subkey_count == node.number_of_subkeys
        and header.subkeys_list_offset == node.subkeys_list_offset
        and header.values_count == node.number_of_key_values
        and header.values_list_offset == node.key_values_list_offset
        and header.security_key_offset == node.key_security_offset
    )


class Hive:
    """A recovered hive. Key paths are relative to the hive root, backslash-separated, any case.

    A path may start with ``CurrentControlSet``, resolved through
    ``Select\\Current``. Lookups return None for a missing key or value and
    raise :class:`HiveCorrupt` (for this hive only) on a bad cell.
    """

    def __init__(self, name: str, result: RecoveryResult, paths: KeyPaths) -> None:
        self.name = name
        self.recovery = result
        self._paths = paths
        self._cells = paths.cells
        self._stream = BytesIO(result.data)
        self._records: dict[int, NKRecord] = {}
        self._value_lists: dict[int, list[KeyValueCell]] = {}

    @property
    def state(self) -> State:
        return self.recovery.state

    @property
    def entries_applied(self) -> int:
        return self.recovery.entries_applied

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.recovery.warnings

    @property
    def max_sequence(self) -> int:
        return self.recovery.max_sequence

    @property
    def logs(self) -> tuple[LogReport, ...]:
        return self.recovery.logs

    @property
    def data(self) -> bytes:
        """The recovered image (the primary itself when clean or dirty-no-log)."""
        return self.recovery.data

    @property
    def current_control_set(self) -> str | None:
        """``ControlSetNNN`` named by ``Select\\Current``, or None when there is none (not a SYSTEM hive)."""
        return self._paths.current_control_set

    def key(self, path: str) -> RegistryKey | None:
        found = self._paths.find_key(path)
        if found is None:
            return None
        offset, key_path = found
        record = self._record(offset, key_path)
        return RegistryKey(
            path=key_path,
            name=decode_name(record.header.key_name_string, bool(record.header.flags.KEY_COMP_NAME)),
            last_written=self._timestamp(record, key_path),
            subkey_count=record.header.subkey_count,
            value_count=record.header.values_count,
        )

    def last_written(self, path: str) -> datetime | None:
        found = self._paths.find_key(path)
        return None if found is None else self._timestamp(self._record(*found), found[1])

    def subkeys(self, path: str) -> list[str] | None:
        """Names of the subkeys, as stored, in the hive's (sorted) order."""
        found = self._paths.find_key(path)
        if found is None:
            return None
        return [entry.name for entry in self._paths.subkey_index(*found)[0]]

    def values(self, path: str) -> list[RegistryValue] | None:
        found = self._paths.find_key(path)
        if found is None:
            return None
        return [self._read(cell, found[1]) for cell in self._value_cells(*found)]

    def value(self, path: str, name: str) -> RegistryValue | None:
        """The value ``name`` ("" for the default value) of the key at ``path``, any case."""
        found = self._paths.find_key(path)
        if found is None:
            return None
        cell = value_named(self._value_cells(*found), name)
        return None if cell is None else self._read(cell, found[1])

    def subkey_values(self, path: str, name: str, limit: int) -> list[tuple[str, RegistryValue | None]] | None:
        """The value ``name`` of each of the first ``limit`` subkeys of ``path``, in list order (None: no such
        key). One pass over the subkey list: a key with thousands of subkeys (CBS Packages) costs no path
        resolution per subkey."""
        found = self._paths.find_key(path)
        if found is None:
            return None
        offset, stored = found
        result: list[tuple[str, RegistryValue | None]] = []
        for entry in self._paths.subkey_index(offset, stored)[0][:limit]:
            key_path = f"{stored}\\{entry.name}"
            cell = self._paths.find_value(entry.offset, name, f"key {key_path!r}")
            result.append((entry.name, None if cell is None else self._read(cell, key_path)))
        return result

    def _record(self, offset: int, key_path: str) -> NKRecord:
        """regipy's parse of the key node at ``offset``, checked against vhdfix's reading of the same cell."""
        record = self._records.get(offset)
        if record is None:
            what = f"key {key_path or 'root'!r}"
            node = self._cells.key_node(offset, what)
            # regipy (and construct under it) take longer to import than inspecting a disk; only key nodes need it
            from regipy.registry import Cell, NKRecord

            with foreign_errors(HiveCorrupt, f"{self.name}: reading {what}"):
                record = NKRecord(Cell(offset=_REGIPY_RECORD_START + offset, cell_type="nk", size=0), self._stream)
            if not _same_key_node(record, node):
                raise self._cells.corrupt(f"{what}: regipy and the key node at {offset:#x} disagree")
            self._records[offset] = record
        return record

    def _value_cells(self, offset: int, key_path: str) -> list[KeyValueCell]:
        cells = self._value_lists.get(offset)
        if cells is None:
            cells = self._value_lists[offset] = self._paths.values(offset, f"key {key_path!r}")
        return cells

    def _read(self, cell: KeyValueCell, key_path: str) -> RegistryValue:
        data = self._cells.value_data(cell, f"key {key_path!r}")
        return registry_value(cell.name, cell.data_type, data)

    def _timestamp(self, record: NKRecord, key_path: str) -> datetime:
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=record.header.last_modified // 10)
        except OverflowError:
            raise self._cells.corrupt(f"key {key_path!r}: last written timestamp out of range") from None
