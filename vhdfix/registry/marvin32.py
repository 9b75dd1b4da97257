"""Marvin32, the hash that protects the log entries of new-format hive logs.

regf spec, "New format" / "Log entries", notes 1-3: Hash-1 and Hash-2 of an
``HvLE`` entry are Marvin32 hashes with the seed bytes 82 EF 4D 88 7A 4E 55 C5,
read as the 64-bit integer 0x82EF4D887A4E55C5 (low half 0x7A4E55C5 starts the
``lo`` state, high half 0x82EF4D88 the ``hi`` state).

The algorithm follows Microsoft's MIT-licensed reference (dotnet/runtime
``System.Private.CoreLib/src/System/Marvin.cs``, 64-bit ``ComputeHash``): add
each little-endian u32 to ``lo`` and mix; finish with the 0-3 remaining bytes
followed by a 0x80 byte as one more word, then mix once more. The 64-bit result
is ``(hi << 32) | lo``, which is how the hive log stores it (little-endian u64).
"""

from __future__ import annotations

import struct

HIVE_LOG_SEED = 0x82EF4D887A4E55C5
_MASK = 0xFFFFFFFF


def marvin32(data: bytes | bytearray | memoryview, seed: int = HIVE_LOG_SEED) -> int:
    """Return the 64-bit Marvin32 hash of ``data`` as ``(hi << 32) | lo``."""
    lo = seed & _MASK
    hi = (seed >> 32) & _MASK
    view = memoryview(data).cast("B")
    words = len(view) // 4
    # The mixing step is inlined: this loop runs once per 4 bytes of every log
    # entry, so a function call per word would double the cost.
    for word in struct.unpack_from(f"<{words}I", view):
        lo = (lo + word) & _MASK
        hi ^= lo
        lo = (((lo << 20) | (lo >> 12)) + hi) & _MASK
        hi = (((hi << 9) | (hi >> 23)) & _MASK) ^ lo
        lo = (((lo << 27) | (lo >> 5)) + hi) & _MASK
        hi = ((hi << 19) | (hi >> 13)) & _MASK
    final = int.from_bytes(bytes(view[words * 4 :]) + b"\x80", "little")
    lo = (lo + final) & _MASK
    for _ in range(2):
        hi ^= lo
        lo = (((lo << 20) | (lo >> 12)) + hi) & _MASK
        hi = (((hi << 9) | (hi >> 23)) & _MASK) ^ lo
        lo = (((lo << 27) | (lo >> 5)) + hi) & _MASK
        hi = ((hi << 19) | (hi >> 13)) & _MASK
    return (hi << 32) | lo
