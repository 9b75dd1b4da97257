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

``marvin32`` is the compiled ``vhdfix.registry._marvin32`` when it was built
(setup.py, optional: an install without a compiler leaves it out), else
``marvin32_python`` below. Setting ``VHDFIX_PURE_PYTHON=1`` before the import
forces the pure-Python code. Both stay callable as ``marvin32_python`` and
``marvin32_native`` (None when the extension is not built), and
``IMPLEMENTATION`` says which one ``marvin32`` is (``native`` or ``python``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import chain

from vhdfix.speedups import pure_python_forced

HIVE_LOG_SEED = 0x82EF4D887A4E55C5
_MASK = 0xFFFFFFFF
# rotl32(x, r) == ((x * _TWICE) >> (32 - r)) & _MASK: x * (2**32 + 1) is x written twice side by side, so one
# shift brings the rotated word into the low 32 bits. Three integer operations instead of four; this loop is
# the cost of recovering a hive (pure Python, about 8 MiB/s).
_TWICE = 0x1_0000_0001


def marvin32_python(data: bytes | bytearray | memoryview, seed: int = HIVE_LOG_SEED) -> int:
    """Return the 64-bit Marvin32 hash of ``data`` as ``(hi << 32) | lo``."""
    lo = seed & _MASK
    hi = (seed >> 32) & _MASK
    view = memoryview(data).cast("B")
    words = len(view) // 4
    # The last word is the 0-3 remaining bytes and a 0x80 byte; a word of 0 gives the closing extra mix.
    final = int.from_bytes(bytes(view[words * 4 :]) + b"\x80", "little")
    # The mixing step is inlined: this loop runs once per 4 bytes of every log
    # entry, so a function call per word would double the cost.
    for word in chain(struct.unpack_from(f"<{words}I", view), (final, 0)):
        lo = (lo + word) & _MASK
        hi ^= lo
        lo = (((lo * _TWICE) >> 12) + hi) & _MASK
        hi = (((hi * _TWICE) >> 23) & _MASK) ^ lo
        lo = (((lo * _TWICE) >> 5) + hi) & _MASK
        hi = ((hi * _TWICE) >> 13) & _MASK
    return (hi << 32) | lo


Marvin32 = Callable[..., int]


def _load_native() -> Marvin32 | None:
    try:
        from vhdfix.registry._marvin32 import marvin32 as native
    except ImportError:
        return None
    return native


marvin32_native: Marvin32 | None = _load_native()
marvin32: Marvin32 = marvin32_python if marvin32_native is None or pure_python_forced() else marvin32_native
IMPLEMENTATION = "native" if marvin32 is marvin32_native else "python"
