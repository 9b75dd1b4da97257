"""Registry values: raw data and their Python form, by data type (regf spec, 'Key value' / 'Data types')."""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.registry.regf_format import (
    REG_DWORD,
    REG_DWORD_BIG_ENDIAN,
    REG_EXPAND_SZ,
    REG_LINK,
    REG_MULTI_SZ,
    REG_QWORD,
    REG_SZ,
    REG_TYPE_NAMES,
)

TypedValue = int | str | list[str] | bytes


@dataclass(frozen=True)
class RegistryValue:
    """One value of a key.

    ``name`` is as stored ("" for the default value). ``type`` is the type
    name ("REG_SZ", ..., "REG_UNKNOWN_0x..."), ``type_code`` its number and
    ``data`` the raw bytes. ``value`` is the data in
    Python form: REG_DWORD, REG_DWORD_BIG_ENDIAN and REG_QWORD give an int;
    REG_SZ, REG_EXPAND_SZ and REG_LINK a str, cut at the first NUL;
    REG_MULTI_SZ a list with every NUL-terminated string, so a list written
    with its closing empty string ends with "" (``a\\0bb\\0\\0`` gives
    ``["a", "bb", ""]``, as yarp and hivex show it); anything else, and integer
    types of the wrong size, the raw bytes.
    """

    name: str
    type: str
    type_code: int
    data: bytes
    value: TypedValue


def registry_value(name: str, type_code: int, data: bytes) -> RegistryValue:
    """A :class:`RegistryValue` from what a key value cell holds."""
    type_name = REG_TYPE_NAMES.get(type_code, f"REG_UNKNOWN_{type_code:#x}")
    return RegistryValue(name, type_name, type_code, data, typed_value(type_code, data))


def typed_value(data_type: int, data: bytes) -> TypedValue:
    """The Python form of ``data`` for ``data_type`` (see :class:`RegistryValue`)."""
    if data_type in (REG_DWORD, REG_DWORD_BIG_ENDIAN) and len(data) == 4:
        return int.from_bytes(data, "big" if data_type == REG_DWORD_BIG_ENDIAN else "little")
    if data_type == REG_QWORD and len(data) == 8:
        return int.from_bytes(data, "little")
    if data_type in (REG_SZ, REG_EXPAND_SZ, REG_LINK):
        return _utf16(data).partition("\0")[0]
    if data_type == REG_MULTI_SZ:
        text = _utf16(data)
        if not text:
            return []
        return text.removesuffix("\0").split("\0")
    return data


def _utf16(data: bytes) -> str:
    # An odd trailing byte cannot be a UTF-16 code unit; it is dropped.
    return data[:len(data) & ~1].decode("utf-16-le", errors="replace")
