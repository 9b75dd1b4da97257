"""Re-apply the update-sequence fixup to an MFT record or INDX block before it is written.

write-path.md §3.8: the writer increments the update sequence number
(skipping 0 and 0xFFFF), saves the last word of every 512-byte stride into the
update sequence array, and stamps the new number into those last words. The
counterpart of :func:`vhdfix.ntfs.fixup.apply_fixup`.
"""

from __future__ import annotations

import struct

from vhdfix.ntfs.fixup import FixupError
from vhdfix.ntfs.ntfs_format import FIXUP_STRIDE


def next_usn(usn: int) -> int:
    """The update sequence number a write uses after ``usn``: +1, wrapping past 0xFFFF and 0 to 1."""
    following = (usn + 1) & 0xFFFF
    return 1 if following in (0, 0xFFFF) else following


def protect(fixed: bytes | bytearray) -> bytes:
    """The on-disk form of the fixed-up block ``fixed`` (whose USA still holds the previous number)."""
    size = len(fixed)
    usa_ofs, usa_count = struct.unpack_from("<HH", fixed, 4)
    strides = size // FIXUP_STRIDE
    if size % FIXUP_STRIDE or usa_count != strides + 1 or usa_ofs + 2 * usa_count > FIXUP_STRIDE - 2:
        raise FixupError(f"update sequence array at {usa_ofs} with {usa_count} entries does not fit {size} bytes")
    out = bytearray(fixed)
    usn = next_usn(struct.unpack_from("<H", out, usa_ofs)[0])
    struct.pack_into("<H", out, usa_ofs, usn)
    for stride in range(1, strides + 1):
        end = stride * FIXUP_STRIDE
        out[usa_ofs + 2 * stride:usa_ofs + 2 * stride + 2] = out[end - 2:end]
        struct.pack_into("<H", out, end - 2, usn)
    return bytes(out)
