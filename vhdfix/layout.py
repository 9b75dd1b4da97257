"""Fixed-size on-disk structures, declared as ``(field name, struct format)`` pairs.

The format modules declare their structures with this rather than with
dissect.cstruct, which parses and compiles C declarations at import: that cost
tens of milliseconds of every start. A layout costs a ``struct.Struct`` and a
small record class. Structures are packed (no alignment padding), as in the
specifications.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, ClassVar

_BYTE_ORDERS = ("<", ">")
_NUMBER_FORMATS = frozenset("bBhHiIqQ")
_RECORD_ATTRIBUTES = ("layout", "names")


class Field:
    """One field: its position among the record's values, and its offset and size in bytes."""

    __slots__ = ("index", "name", "offset", "size")

    def __init__(self, name: str, index: int, offset: int, size: int) -> None:
        self.name = name
        self.index = index
        self.offset = offset
        self.size = size

    def __repr__(self) -> str:
        return f"Field({self.name!r}, index={self.index}, offset={self.offset}, size={self.size})"


class Record(tuple):
    """A parsed structure: its field values in declaration order, also readable as attributes.

    Byte-string fields are ``bytes``; an array of nested structures is a tuple of records.
    """

    __slots__ = ()
    layout: ClassVar[Layout]
    names: ClassVar[tuple[str, ...]]  # of the values, in order

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={value!r}" for name, value in zip(self.names, self, strict=True))
        return f"{type(self).__name__}({values})"


class Layout:
    """A structure of fixed size: its fields' offsets, parsing into records, and packing for writing.

    Each field is declared with a ``struct`` format of one value ("B", "H", "I", "Q", "h", "16s", ...), or with
    ``(layout, count)`` for an array of nested structures. ``byte_order`` is "<" or ">".
    """

    def __init__(self, name: str, fields: Sequence[tuple[str, str | tuple[Layout, int]]],
                 byte_order: str = "<") -> None:
        if byte_order not in _BYTE_ORDERS:
            raise ValueError(f"{name}: byte order {byte_order!r} is not one of {_BYTE_ORDERS}")
        self.name = name
        self.byte_order = byte_order
        self.fields: dict[str, Field] = {}
        self._arrays: list[tuple[int, Layout, int]] = []
        self._byte_fields: list[Field] = []
        defaults: list[object] = []
        formats = []
        offset = 0
        for index, (field_name, field_format) in enumerate(fields):
            if field_name.startswith("_") or field_name in _RECORD_ATTRIBUTES or hasattr(Record, field_name) \
                    or field_name in self.fields:
                raise ValueError(f"{name}: {field_name!r} cannot be a field name")
            if isinstance(field_format, tuple):
                element, count = field_format
                code = f"{len(element) * count}s"
                self._arrays.append((index, element, count))
                defaults.append(())
            elif field_format in _NUMBER_FORMATS:
                code = field_format
                defaults.append(0)
            elif field_format[-1:] == "s" and field_format[:-1].isdigit():
                code = field_format
                defaults.append(b"")
            else:
                raise ValueError(f"{name}.{field_name}: {field_format!r} is not a struct format of one value")
            size = struct.calcsize(byte_order + code)
            field = self.fields[field_name] = Field(field_name, index, offset, size)
            if code[-1] == "s":
                self._byte_fields.append(field)
            formats.append(code)
            offset += size
        self._struct = struct.Struct(byte_order + "".join(formats))
        self.size = self._struct.size
        self._defaults = tuple(defaults)
        namespace: dict[str, Any] = {"__slots__": (), "layout": self, "names": tuple(self.fields)}
        namespace.update((field.name, property(itemgetter(field.index))) for field in self.fields.values())
        self.record: type[Record] = type(name, (Record,), namespace)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.size} bytes)"

    def parse(self, data: bytes | bytearray | memoryview, offset: int = 0) -> Record:
        """The structure at ``offset`` of ``data``; EOFError when ``data`` ends before it does."""
        try:
            values = self._struct.unpack_from(data, offset)
        except struct.error:
            raise EOFError(f"{self.name}: {self.size} bytes needed at offset {offset}, "
                           f"the data holds {len(data)}") from None
        if self._arrays:
            items = list(values)
            for index, element, count in self._arrays:
                items[index] = element.parse_array(items[index], count)
            values = tuple(items)
        return self.record(values)

    def parse_array(self, data: bytes | bytearray | memoryview, count: int, offset: int = 0) -> tuple[Record, ...]:
        """``count`` structures one after the other from ``offset``."""
        return tuple(self.parse(data, offset + index * self.size) for index in range(count))

    def pack(self, record: Record | None = None, /, **values: Any) -> bytes:
        """The bytes of ``record`` (or of an all-zero structure), with ``values`` replacing fields by name.

        Byte strings shorter than their field are padded with zeros, as are arrays with fewer records than
        their count; longer ones raise ValueError rather than being cut.
        """
        items = list(self._defaults if record is None else record)
        for field_name, value in values.items():
            field = self.fields.get(field_name)
            if field is None:
                raise TypeError(f"{self.name} has no field {field_name!r}")
            items[field.index] = value
        for index, element, _ in self._arrays:
            items[index] = b"".join(element.pack(item) for item in items[index])
        for field in self._byte_fields:
            if len(items[field.index]) > field.size:
                raise ValueError(f"{self.name}.{field.name}: {len(items[field.index])} bytes do not fit in "
                                 f"{field.size}")
        return self._struct.pack(*items)
