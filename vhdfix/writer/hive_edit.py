"""Registry values changed in place inside a hive image, with no cell allocation, and the commit.

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
* Anything else (a missing key or value, another type, a longer string, big
  data) is refused: it needs cell allocation.
* Deleting a value is not done: no article needs it, and removing a vk from
  a values list in place (shrink the list, free the cells) is left until one
  does. There is no action for it, so it cannot be requested.

The commit (§6.5) sets both sequence numbers to one more than every sequence
number seen in the hive and its logs, the last-written time, and the checksum
with its special cases, so the hive is clean and no stale log entry can ever
be replayed over the edit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vhdfix.diagnosis.actions import ValueSetting
from vhdfix.errors import ValueNotFound, ValueTooLong, ValueTypeMismatch
from vhdfix.registry.base_block import checksum, read_base_block
from vhdfix.registry.cells import KeyValueCell
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.registry.regf_format import (
    BASE_BLOCK,
    BASE_BLOCK_SIZE,
    BIG_DATA_SEGMENT_SIZE,
    CHECKSUMMED_SIZE,
    DATA_SIZE_INLINE,
    KEY_VALUE,
    REG_DWORD,
    REG_SZ,
)

VALUE_TYPES = {"REG_DWORD": REG_DWORD, "REG_SZ": REG_SZ}
_VK_DATA_SIZE_AT = KEY_VALUE.fields["data_size"].offset
_VK_DATA_OFFSET_AT = KEY_VALUE.fields["data_offset"].offset
_SEQUENCES_AT = BASE_BLOCK.fields["primary_sequence_number"].offset
_TIMESTAMP_AT = BASE_BLOCK.fields["last_written_timestamp"].offset
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_INLINE_MAX = 4
_ADVICE = "make this change with regedit in Windows (or in a repair VM that loads the hive)"


def filetime(when: datetime) -> int:
    return int((when - _FILETIME_EPOCH).total_seconds() * 10_000_000)


@dataclass
class HiveEditor:
    """Edits applied to a copy of one hive image; ``writes`` says which bytes changed and why."""

    name: str
    original: bytes
    image: bytearray = field(init=False)
    writes: list[tuple[int, int, int, str]] = field(default_factory=list)  # (start, end, step, reason)
    paths: KeyPaths = field(init=False)

    def __post_init__(self) -> None:
        self.image = bytearray(self.original)
        self.paths = KeyPaths.strict(self.name, self.image)

    def _write(self, offset: int, data: bytes, step: int, reason: str) -> None:
        self.image[offset:offset + len(data)] = data
        self.writes.append((offset, offset + len(data), step, reason))

    def _locate(self, setting: ValueSetting) -> KeyValueCell:
        key = self.paths.find_key(setting.key)
        if key is None:
            raise ValueNotFound(f"{setting.hive}: key {setting.key!r} does not exist; vhdfix only changes existing "
                                f"values (creating one needs the registry's allocator); {_ADVICE}")
        value = self.paths.find_value(key[0], setting.name, f"key {key[1]!r}")
        if value is None:
            raise ValueNotFound(f"{setting.label} does not exist; vhdfix only changes existing values "
                                f"(creating one needs the registry's allocator); {_ADVICE}")
        return value

    def set_value(self, setting: ValueSetting, step: int) -> str | None:
        """Apply one setting; a note when the value already holds it (nothing written)."""
        value = self._locate(setting)
        wanted = VALUE_TYPES.get(setting.value_type)
        if wanted is None or value.data_type != wanted:
            raise ValueTypeMismatch(f"{setting.label} has registry type {value.data_type}, the action sets "
                                    f"{setting.value_type}; vhdfix does not change a value's type; {_ADVICE}")
        if wanted == REG_DWORD:
            return self._set_dword(setting, value, step)
        return self._set_string(setting, value, step)

    def _set_dword(self, setting: ValueSetting, value: KeyValueCell, step: int) -> str | None:
        number = setting.value
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 0xFFFFFFFF:
            raise ValueTypeMismatch(f"{setting.label}: {number!r} is not a REG_DWORD number")
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
        if not isinstance(text, str) or "\0" in text:
            raise ValueTypeMismatch(f"{setting.label}: {text!r} is not a REG_SZ string")
        encoded = text.encode("utf-16-le") + b"\0\0"
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
