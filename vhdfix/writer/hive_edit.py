"""Registry edits inside a hive image: values changed in place, values and keys deleted, values created in free
cells, and the commit.

write-path.md §6.4-6.5:

* REG_DWORD: the vk must be type 4 with 4 bytes stored inline (data size
  0x80000004); the new number goes into the vk's data field (vk + 8).
* REG_SZ: the vk must be type 1. Inline data (4 bytes or fewer) stays inline
  when the new string fits; data in a cell is rewritten inside that cell when
  the new string plus its NUL fits the cell, the old tail is zeroed, and the
  vk's data size (vk + 4) gets the new length. The empty string is written
  as encoding (A): the cell is kept and holds ``00 00``, size 2 - never a zero
  size that still points at a cell (which a hive check treats as corruption
  and repairs by deleting the value).
* Anything else (another type, a longer string, big data) is refused. A
  missing value is refused unless the setting may create it: then a vk (and
  a data cell for a string) is allocated in free cells of the existing bins
  (:mod:`vhdfix.writer.hive_cells`), the key's values list takes one more
  entry (in its cell's slack, or in a new list cell), and the key node's
  value count and largest name (UTF-16 bytes) and data sizes are updated.
* Deleting a value (``reg delete /v``): its vk, data cell (or big data
  record, segment list and segments) are freed, the entry leaves the key's
  values list (the list cell is freed when it empties, and the key node's
  largest name and data sizes go to 0 then, as ReactOS ``CmDeleteValueKey``
  does), the count drops and the key's last-written time is set.
* Deleting a key with no subkeys (a BCD element): its values as above, its
  class name, one reference to its security cell (the sk is unlinked from
  the sk list and freed when none remains, regf spec 'Key security'), the
  key node, and its entry in the parent's subkey list (li/lf/lh, or one leaf
  of an ri that keeps at least one entry); the parent's count drops.

The commit (§6.5) sets both sequence numbers to one more than every sequence
number seen in the hive and its logs, the last-written time, and the checksum
with its special cases, so the hive is clean and no stale log entry can ever
be replayed over the edit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vhdfix.diagnosis.actions import ValueName, ValueSetting
from vhdfix.errors import HiveShapeUnsupported, ValueNotFound, ValueTooLong, ValueTypeMismatch
from vhdfix.registry.base_block import checksum, read_base_block
from vhdfix.registry.cells import INDEX_ROOT_SIGNATURE, LEAF_STRIDES, NO_CELL, KeyNode, KeyValueCell
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.registry.regf_format import (
    BASE_BLOCK,
    BASE_BLOCK_SIZE,
    BIG_DATA,
    BIG_DATA_MIN_MINOR_VERSION,
    BIG_DATA_SEGMENT_SIZE,
    BIG_DATA_SIGNATURE,
    CHECKSUMMED_SIZE,
    DATA_SIZE_INLINE,
    KEY_NODE,
    KEY_VALUE,
    KEY_VALUE_SIGNATURE,
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_SZ,
    VALUE_COMP_NAME,
)
from vhdfix.writer.hive_cells import CellSpace

VALUE_TYPES = {"REG_DWORD": REG_DWORD, "REG_SZ": REG_SZ, "REG_EXPAND_SZ": REG_EXPAND_SZ}
_VK_DATA_SIZE_AT = KEY_VALUE.fields["data_size"].offset
_VK_DATA_OFFSET_AT = KEY_VALUE.fields["data_offset"].offset
_SEQUENCES_AT = BASE_BLOCK.fields["primary_sequence_number"].offset
_TIMESTAMP_AT = BASE_BLOCK.fields["last_written_timestamp"].offset
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_INLINE_MAX = 4
_ADVICE = "make this change with regedit in Windows (or in a repair VM that loads the hive)"
_CELL_DATA = BASE_BLOCK_SIZE + 4  # file offset of a cell's data = _CELL_DATA + cell offset
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
# regf spec, 'Key security': Signature, Reserved, Flink, Blink, Reference count, ...
_SK_FLINK, _SK_BLINK, _SK_REFERENCES = 4, 8, 12
_SUBKEY_NAME_LENGTH_MASK = 0xFFFF  # regf spec, 'Key node', note 4: the upper bits of that field are flags


def _key_field(name: str) -> int:
    return KEY_NODE.fields[name].offset


def filetime(when: datetime) -> int:
    return int((when - _FILETIME_EPOCH).total_seconds() * 10_000_000)


@dataclass
class HiveEditor:
    """Edits applied to a copy of one hive image; ``writes`` says which bytes changed and why."""

    name: str
    original: bytes
    when: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    image: bytearray = field(init=False)
    writes: list[tuple[int, int, int, str]] = field(default_factory=list)  # (start, end, step, reason)
    paths: KeyPaths = field(init=False)
    _space: CellSpace | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.image = bytearray(self.original)
        self.paths = KeyPaths.strict(self.name, self.image)

    @property
    def space(self) -> CellSpace:
        if self._space is None:
            self._space = CellSpace(self.image, read_base_block(self.image).hive_bins_data_size, self.paths.cells,
                                    self._write)
        return self._space

    def _write(self, offset: int, data: bytes, step: int, reason: str) -> None:
        self.image[offset:offset + len(data)] = data
        self.writes.append((offset, offset + len(data), step, reason))

    def _set_u32(self, cell: int, at: int, number: int, step: int, reason: str) -> None:
        self._write(_CELL_DATA + cell + at, _U32.pack(number), step, reason)

    def _u32(self, cell: int, at: int) -> int:
        return _U32.unpack_from(self.image, _CELL_DATA + cell + at)[0]

    def _touch(self, key: int, step: int, reason: str) -> None:
        """Set a key's last-written time, as Windows does on every change to its values or subkeys."""
        self._write(_CELL_DATA + key + _key_field("last_written_timestamp"),
                    struct.pack("<Q", filetime(self.when)), step, reason)

    # --- values changed in place ---------------------------------------------------------------------------

    def set_value(self, setting: ValueSetting, step: int) -> str | None:
        """Apply one setting; a note when the value already holds it, or when a value that may be created has no
        key (a hive with ControlSet001 only, for a step written for ControlSet001 and ControlSet002): nothing
        written."""
        key = self.paths.find_key(setting.key)
        if key is None and setting.create:
            return f"{setting.hive}\\{setting.key} does not exist (vhdfix does not create keys); skipped"
        if key is None:
            raise ValueNotFound(f"{setting.hive}: key {setting.key!r} does not exist; vhdfix does not create keys; "
                                f"{_ADVICE}")
        value = self.paths.find_value(key[0], setting.name, f"key {key[1]!r}")
        wanted = VALUE_TYPES.get(setting.value_type)
        if value is None:
            if not setting.create or wanted is None:
                raise ValueNotFound(f"{setting.label} does not exist; vhdfix only changes existing values here; "
                                    f"{_ADVICE}")
            self._create_value(key[0], setting, wanted, step)
            return None
        if wanted is None or value.data_type != wanted:
            raise ValueTypeMismatch(f"{setting.label} has registry type {value.data_type}, the action sets "
                                    f"{setting.value_type}; vhdfix does not change a value's type; {_ADVICE}")
        if wanted == REG_DWORD:
            return self._set_dword(setting, value, step)
        return self._set_string(setting, value, step)

    def _set_dword(self, setting: ValueSetting, value: KeyValueCell, step: int) -> str | None:
        number = _dword(setting)
        if not value.inline or value.length != 4:
            raise ValueTypeMismatch(f"{setting.label} is a REG_DWORD stored as {value.length} bytes "
                                    f"{'inline' if value.inline else 'in a cell'}, not the usual 4 inline bytes; "
                                    f"{_ADVICE}")
        if value.data_offset == number:
            return f"{setting.label} is already {number}"
        self._write(value.file_offset + _VK_DATA_OFFSET_AT, struct.pack("<I", number), step,
                    f"{setting.label} = {number} (was {value.data_offset})")
        return None

    def _set_string(self, setting: ValueSetting, value: KeyValueCell, step: int) -> str | None:
        text = setting.value
        encoded = _string(setting)
        current = self.paths.cells.value_data(value, f"key {setting.key!r}")
        if current == encoded:
            return f"{setting.label} is already {text!r}"
        reason = f"{setting.label} = {text!r}"
        vk = value.file_offset
        if value.inline:
            if len(encoded) > _INLINE_MAX:
                raise ValueTooLong(f"{setting.label} holds {value.length} bytes inline; {text!r} needs "
                                   f"{len(encoded)} and a new cell, which vhdfix does not allocate; {_ADVICE}")
            self._write(vk + _VK_DATA_SIZE_AT, struct.pack("<I", DATA_SIZE_INLINE | len(encoded)), step, reason)
            self._write(vk + _VK_DATA_OFFSET_AT, encoded.ljust(_INLINE_MAX, b"\0"), step, reason)
            return None
        if value.length > BIG_DATA_SEGMENT_SIZE:
            raise ValueTooLong(f"{setting.label} is stored as big data (segments), which vhdfix does not rewrite; "
                               f"{_ADVICE}")
        capacity = len(self.paths.cells.cell(value.data_offset, f"{setting.label}: data"))
        if len(encoded) > capacity:
            raise ValueTooLong(f"{setting.label}: {text!r} needs {len(encoded)} bytes, its cell holds {capacity}; "
                               f"a larger cell needs the registry's allocator; {_ADVICE}")
        start = BASE_BLOCK_SIZE + value.data_offset + 4
        self._write(start, encoded.ljust(max(value.length, len(encoded)), b"\0"), step, reason)
        self._write(vk + _VK_DATA_SIZE_AT, struct.pack("<I", len(encoded)), step, reason)
        return None

    # --- values created in free cells ----------------------------------------------------------------------

    def _create_value(self, key: int, setting: ValueSetting, data_type: int, step: int) -> None:
        reason = f"create {setting.label} = {setting.value!r}"
        try:
            name = setting.name.encode("ascii")
        except UnicodeEncodeError:
            raise ValueTypeMismatch(f"{setting.label}: vhdfix creates values with ASCII names only; "
                                    f"{_ADVICE}") from None
        if data_type == REG_DWORD:
            data = _U32.pack(_dword(setting))
            size, pointer = DATA_SIZE_INLINE | 4, _dword(setting)
        else:
            data = _string(setting)
            if len(data) > BIG_DATA_SEGMENT_SIZE:
                raise ValueTooLong(f"{setting.label}: {len(data)} bytes would need big data; {_ADVICE}")
            pointer = self.space.allocate(data, step, reason, f"the data of {setting.label}")
            size = len(data)
        record = KEY_VALUE.pack(KEY_VALUE.parse(bytes(len(KEY_VALUE))), signature=KEY_VALUE_SIGNATURE,
                                name_length=len(name), data_size=size, data_offset=pointer, data_type=data_type,
                                flags=VALUE_COMP_NAME) + name
        vk = self.space.allocate(record, step, reason, f"the key value cell of {setting.label}")
        node = self.paths.cells.key_node(key, setting.label)
        count = node.number_of_key_values
        entries = [*self._value_list(node), vk]
        listed = node.key_values_list_offset
        if count and len(self.paths.cells.cell(listed, f"{setting.label}: values list")) >= 4 * len(entries):
            self._write(_CELL_DATA + listed + 4 * count, _U32.pack(vk), step, reason)
        else:
            new_list = self.space.allocate(b"".join(_U32.pack(entry) for entry in entries), step, reason,
                                           f"the values list of {setting.hive}\\{setting.key}")
            if count:
                self.space.free(listed, step, reason)
            self._set_u32(key, _key_field("key_values_list_offset"), new_list, step, reason)
        self._set_u32(key, _key_field("number_of_key_values"), len(entries), step, reason)
        name_bytes = 2 * len(name)  # in UTF-16 bytes, whatever the stored form
        if name_bytes > node.largest_value_name_length:
            self._set_u32(key, _key_field("largest_value_name_length"), name_bytes, step, reason)
        if len(data) > node.largest_value_data_size:
            self._set_u32(key, _key_field("largest_value_data_size"), len(data), step, reason)
        self._touch(key, step, reason)

    def _value_list(self, node: KeyNode) -> list[int]:
        count = node.number_of_key_values
        if not count:
            return []
        cell = self.paths.cells.cell(node.key_values_list_offset, "values list")
        return [_U32.unpack_from(cell, 4 * index)[0] for index in range(count)]

    # --- deletions ------------------------------------------------------------------------------------------

    def delete_value(self, target: ValueName, step: int) -> str | None:
        """``reg delete <key> /v <name>``; a note when the key or value does not exist (nothing written)."""
        key = self.paths.find_key(target.key)
        if key is None:
            return f"{target.hive}\\{target.key} does not exist; nothing to delete"
        value = self.paths.find_value(key[0], target.name, f"key {key[1]!r}")
        if value is None:
            return f"{target.label} does not exist; nothing to delete"
        reason = f"delete {target.label}"
        node = self.paths.cells.key_node(key[0], target.label)
        remaining = [entry for entry in self._value_list(node) if entry != value.offset]
        self._free_value(value, step, reason)
        listed = node.key_values_list_offset
        if remaining:
            self._write(_CELL_DATA + listed, b"".join(_U32.pack(entry) for entry in remaining) + bytes(4), step,
                        reason)
        else:
            self.space.free(listed, step, reason)
            self._set_u32(key[0], _key_field("key_values_list_offset"), NO_CELL, step, reason)
            self._set_u32(key[0], _key_field("largest_value_name_length"), 0, step, reason)
            self._set_u32(key[0], _key_field("largest_value_data_size"), 0, step, reason)
        self._set_u32(key[0], _key_field("number_of_key_values"), len(remaining), step, reason)
        self._touch(key[0], step, reason)
        return None

    def _free_value(self, value: KeyValueCell, step: int, reason: str) -> None:
        """Free a vk and its data (regf spec, 'Key value' and 'Big data')."""
        cells = self.paths.cells
        if not value.inline and value.length and value.data_offset != NO_CELL:
            data = cells.cell(value.data_offset, f"{reason}: data")
            if value.length > BIG_DATA_SEGMENT_SIZE and cells.minor_version >= BIG_DATA_MIN_MINOR_VERSION \
                    and bytes(data[:2]) == BIG_DATA_SIGNATURE:
                header = BIG_DATA.parse(data)
                segments = cells.cell(header.offset_of_list_of_segments, f"{reason}: big data segment list")
                for index in range(header.number_of_segments):
                    self.space.free(_U32.unpack_from(segments, 4 * index)[0], step, reason)
                self.space.free(header.offset_of_list_of_segments, step, reason)
            self.space.free(value.data_offset, step, reason)
        self.space.free(value.offset, step, reason)

    def delete_key(self, path: str, label: str, step: int) -> str | None:
        """Delete a key that has no subkeys; a note when it does not exist (nothing written)."""
        found = self.paths.find_key(path)
        if found is None:
            return f"{label} does not exist; nothing to delete"
        offset, stored = found
        if not stored:
            raise HiveShapeUnsupported(f"{label}: vhdfix does not delete a hive's root key")
        reason = f"delete {label}"
        cells = self.paths.cells
        node = cells.key_node(offset, label)
        if node.number_of_subkeys or node.number_of_volatile_subkeys:
            raise HiveShapeUnsupported(f"{label} has subkeys; vhdfix deletes keys without subkeys only; "
                                       f"{_ADVICE}")
        for value in self.paths.values(offset, label):
            self._free_value(value, step, reason)
        if node.number_of_key_values:
            self.space.free(node.key_values_list_offset, step, reason)
        if node.class_name_offset != NO_CELL and cells.is_allocated(node.class_name_offset):
            self.space.free(node.class_name_offset, step, reason)
        self._release_security(node.key_security_offset, step, reason)
        self._unlist_subkey(node.parent, offset, label, step, reason)
        self.space.free(offset, step, reason)
        self.paths.forget()
        return None

    def _release_security(self, sk: int, step: int, reason: str) -> None:
        """regf spec, 'Key security': drop one reference; unlink and free the sk when it was the last."""
        self.paths.cells.cell(sk, f"{reason}: key security")
        references = self._u32(sk, _SK_REFERENCES)
        if references > 1:
            self._set_u32(sk, _SK_REFERENCES, references - 1, step, reason)
            return
        flink, blink = self._u32(sk, _SK_FLINK), self._u32(sk, _SK_BLINK)
        for neighbour in (flink, blink):
            if bytes(self.paths.cells.cell(neighbour, f"{reason}: key security list")[:2]) != b"sk":
                raise self.paths.cells.corrupt(f"{reason}: the key security list links {neighbour:#x}, not an sk cell")
        self._set_u32(blink, _SK_FLINK, flink, step, reason)
        self._set_u32(flink, _SK_BLINK, blink, step, reason)
        self.space.free(sk, step, reason)

    def _unlist_subkey(self, parent: int, child: int, label: str, step: int, reason: str) -> None:
        """Remove ``child`` from its parent's subkey list (regf spec, 'Subkeys list')."""
        cells = self.paths.cells
        node = cells.key_node(parent, f"{label}: parent")
        top = node.subkeys_list_offset
        leaves = [top]
        top_cell = cells.cell(top, f"{label}: subkeys list")
        if bytes(top_cell[:2]) == INDEX_ROOT_SIGNATURE:
            leaves = [_U32.unpack_from(top_cell, 4 + 4 * index)[0]
                      for index in range(_U16.unpack_from(top_cell, 2)[0])]
        for leaf in leaves:
            cell = cells.cell(leaf, f"{label}: subkeys list")
            stride = LEAF_STRIDES.get(bytes(cell[:2]))
            if stride is None:
                raise HiveShapeUnsupported(f"{label}: the parent's subkey list has signature {bytes(cell[:2])!r}")
            count = _U16.unpack_from(cell, 2)[0]
            elements = [bytes(cell[4 + stride * index:4 + stride * (index + 1)]) for index in range(count)]
            position = next((i for i, element in enumerate(elements) if _U32.unpack_from(element)[0] == child), None)
            if position is None:
                continue
            if count == 1 and leaf != top:
                raise HiveShapeUnsupported(f"{label} is the only key of one leaf of its parent's index root; "
                                           f"vhdfix does not reshape index roots; {_ADVICE}")
            subkeys = node.number_of_subkeys - 1
            if subkeys == 0:
                self.space.free(top, step, reason)
                self._set_u32(parent, _key_field("subkeys_list_offset"), NO_CELL, step, reason)
                flags = self._u32(parent, _key_field("largest_subkey_name_length")) & ~_SUBKEY_NAME_LENGTH_MASK
                self._set_u32(parent, _key_field("largest_subkey_name_length"), flags, step, reason)
                self._set_u32(parent, _key_field("largest_subkey_class_name_length"), 0, step, reason)
            else:
                kept = elements[:position] + elements[position + 1:]
                self._write(_CELL_DATA + leaf + 2, _U16.pack(count - 1) + b"".join(kept) + bytes(stride), step,
                            reason)
            self._set_u32(parent, _key_field("number_of_subkeys"), subkeys, step, reason)
            self._touch(parent, step, reason)
            return
        raise HiveShapeUnsupported(f"{label} is not in its parent's subkey list")

    # --- the commit -----------------------------------------------------------------------------------------

    def commit(self, max_sequence: int, when: datetime, step: int) -> int:
        """Seal the base block (write-path.md §6.5); return the new sequence number."""
        base = read_base_block(self.image)
        sequence = max(max_sequence, base.primary_sequence_number, base.secondary_sequence_number) + 1
        block = bytearray(self.image[:CHECKSUMMED_SIZE + 4])
        struct.pack_into("<II", block, _SEQUENCES_AT, sequence, sequence)
        struct.pack_into("<Q", block, _TIMESTAMP_AT, filetime(when))
        struct.pack_into("<I", block, CHECKSUMMED_SIZE, checksum(block))
        self._write(0, bytes(block), step, f"commit: sequence numbers {sequence}/{sequence}, "
                                           "last written time, checksum")
        return sequence


def _dword(setting: ValueSetting) -> int:
    number = setting.value
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 0xFFFFFFFF:
        raise ValueTypeMismatch(f"{setting.label}: {number!r} is not a REG_DWORD number")
    return number


def _string(setting: ValueSetting) -> bytes:
    text = setting.value
    if not isinstance(text, str) or "\0" in text:
        raise ValueTypeMismatch(f"{setting.label}: {text!r} is not a {setting.value_type} string")
    return text.encode("utf-16-le") + b"\0\0"
