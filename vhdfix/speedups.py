"""The switch between the optional compiled speedups and their pure-Python code.

Each speedup (``vhdfix.registry._marvin32``, ``vhdfix.disk._crc32c``; built by setup.py when a compiler is there)
has pure-Python code that does the same. Setting ``VHDFIX_PURE_PYTHON=1`` before vhdfix is imported uses the
pure-Python code everywhere, as an install without a compiler would.
"""

from __future__ import annotations

import os


def pure_python_forced() -> bool:
    return os.environ.get("VHDFIX_PURE_PYTHON", "") not in ("", "0")
