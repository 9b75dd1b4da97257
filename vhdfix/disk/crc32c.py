"""CRC-32C (Castagnoli), the checksum of VHDX headers, region tables and log entries.

MS-VHDX §2.2.2, §2.2.3 and §2.3.1.1 checksum each structure with its own
4-byte checksum field taken as zero. The reflected polynomial is 0x82F63B78
(0x1EDC6F41 bit-reversed); initial value and final XOR are 0xFFFFFFFF.

The table-driven Python implementation is the reference. ``crc32c`` is the
compiled ``vhdfix.disk._crc32c`` when it was built (setup.py, optional; it
uses the CPU's CRC-32C instruction where there is one, ``HARDWARE``), else
dissect.util's native code when installed, else the Python code
(``VHDFIX_PURE_PYTHON=1`` forces it, :mod:`vhdfix.speedups`). The tests check
that they agree.
"""

from __future__ import annotations

from collections.abc import Callable

from vhdfix.speedups import pure_python_forced

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


Crc32c = Callable[..., int]  # (data, crc=0) -> int


def _load_native() -> tuple[Crc32c | None, bool]:
    """The compiled CRC-32C and whether it runs on the CPU's instruction; (None, False) when it is not built."""
    try:
        from vhdfix.disk import _crc32c  # type: ignore[attr-defined]
    except ImportError:
        return None, False
    return _crc32c.crc32c, bool(_crc32c.hardware)


def _dissect_implementation() -> Crc32c | None:
    try:
        from dissect.util import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(getattr(getattr(_native, "hash", None), "crc32c", None), "crc32c", None)


crc32c_native, _native_hardware = _load_native()
if pure_python_forced():
    crc32c: Crc32c = crc32c_python
else:
    crc32c = crc32c_native or _dissect_implementation() or crc32c_python
HARDWARE = crc32c is crc32c_native and _native_hardware  # crc32c runs at the CPU's speed (many GB/s)


def checksum_with_field_zeroed(data: bytes, field_offset: int) -> int:
    """CRC-32C of ``data`` with its 4-byte checksum field at ``field_offset`` taken as zero."""
    crc = crc32c(data[:field_offset], 0)
    crc = crc32c(b"\0\0\0\0", crc)
    return crc32c(data[field_offset + 4:], crc)
