"""The chain of hive bins in a primary image (regf spec, 'Hive bin')."""

from __future__ import annotations

import struct

from vhdfix.registry.regf_format import (
    BASE_BLOCK_SIZE,
    HBIN_SIGNATURE,
    HIVE_BIN_ALIGNMENT,
    HIVE_BIN_HEADER,
    HIVE_BIN_HEADER_SIZE,
)

# One header per 4096 bytes of a 12 MB hive: read the three fields directly, at their declared offsets.
_SIGNATURE_END = len(HBIN_SIGNATURE)
_OFFSET_FIELD = HIVE_BIN_HEADER.fields["offset"].offset
_SIZE_FIELD = HIVE_BIN_HEADER.fields["size"].offset


def first_bad_hive_bin(image: bytes | bytearray, hive_bins_data_size: int) -> tuple[int, str] | None:
    """Walk the hive bins from the first one; return (relative offset, reason) of the first bad one.

    A bin is good when its signature is ``hbin``, its Offset field equals its
    position, its Size is a non-zero multiple of 4096 (note 1) and it ends
    within ``hive_bins_data_size``. Each step advances at least 4096 bytes.
    """
    position = 0
    while position < hive_bins_data_size:
        start = BASE_BLOCK_SIZE + position
        if start + HIVE_BIN_HEADER_SIZE > len(image):
            return position, "the file ends before this hive bin"
        signature = bytes(image[start:start + _SIGNATURE_END])
        (offset,) = struct.unpack_from("<I", image, start + _OFFSET_FIELD)
        (size,) = struct.unpack_from("<I", image, start + _SIZE_FIELD)
        if signature != HBIN_SIGNATURE:
            return position, f"bad signature {signature!r}"
        if offset != position:
            return position, f"its Offset field says {offset:#x}"
        if size < HIVE_BIN_ALIGNMENT or size % HIVE_BIN_ALIGNMENT:
            return position, f"bad size {size:#x}"
        if position + size > hive_bins_data_size:
            return position, f"its size {size:#x} runs past the hive bins data size {hive_bins_data_size:#x}"
        position += size
    return None
