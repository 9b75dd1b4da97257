"""CRC-32C (Castagnoli), the checksum of VHDX headers, region tables and log entries.

MS-VHDX §2.2.2, §2.2.3 and §2.3.1.1 checksum each structure with its own
4-byte checksum field taken as zero. The reflected polynomial is 0x82F63B78
(0x1EDC6F41 bit-reversed); initial value and final XOR are 0xFFFFFFFF.

The table-driven Python implementation is the reference; when dissect.util's
native extension is installed the same function runs in native code
(the tests check both agree).
"""

from __future__ import annotations

from collections.abc import Callable

_POLYNOMIAL = 0x82F63B78


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c_python(data: bytes, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from a previous result ``crc``."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _native_implementation() -> Callable[[bytes, int], int] | None:
    try:
        from dissect.util import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(getattr(getattr(_native, "hash", None), "crc32c", None), "crc32c", None)


crc32c: Callable[[bytes, int], int] = _native_implementation() or crc32c_python


def checksum_with_field_zeroed(data: bytes, field_offset: int) -> int:
    """CRC-32C of ``data`` with its 4-byte checksum field at ``field_offset`` taken as zero."""
    crc = crc32c(data[:field_offset], 0)
    crc = crc32c(b"\0\0\0\0", crc)
    return crc32c(data[field_offset + 4:], crc)
