"""Update-sequence ("multi-sector") fixups on MFT records, INDX blocks and log pages.

write-path.md §3.8: the array holds the USN then one saved word per 512-byte
stride; on disk, every stride ends with the USN. The stride is always 512
bytes, whatever the sector size.
"""

from __future__ import annotations

import struct

from vhdfix.ntfs.ntfs_format import FIXUP_STRIDE


class FixupError(Exception):
    """A torn or malformed multi-sector transfer."""


def apply_fixup(raw: bytes, size: int) -> bytes:
    """The protected ``size`` bytes with the saved words put back, or FixupError."""
    if len(raw) < size or size % FIXUP_STRIDE:
        raise FixupError(f"{len(raw)} bytes is not a whole {size}-byte protected block")
    usa_ofs, usa_count = struct.unpack_from("<HH", raw, 4)
    strides = size // FIXUP_STRIDE
    if usa_count != strides + 1 or usa_ofs < 8 or usa_ofs + 2 * usa_count > FIXUP_STRIDE - 2 or usa_ofs & 1:
        raise FixupError(f"update sequence array at {usa_ofs} with {usa_count} entries does not fit {size} bytes")
    fixed = bytearray(raw[:size])
    usn = fixed[usa_ofs:usa_ofs + 2]
    for stride in range(1, strides + 1):
        end = stride * FIXUP_STRIDE
        if fixed[end - 2:end] != usn:
            raise FixupError(f"torn write: stride {stride} does not end with the update sequence number")
        fixed[end - 2:end] = fixed[usa_ofs + 2 * stride:usa_ofs + 2 * stride + 2]
    return bytes(fixed)
