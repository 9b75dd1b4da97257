"""The optional compiled speedups (everything else is in pyproject.toml): Marvin32 and CRC-32C.

``optional=True``: when an extension cannot be compiled (no compiler, no Python headers), setuptools warns
and installs vhdfix without it, and ``vhdfix.registry.marvin32`` and ``vhdfix.disk.crc32c`` use their
pure-Python code.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("vhdfix.registry._marvin32", ["vhdfix/registry/_marvin32.c"], optional=True),
                   Extension("vhdfix.disk._crc32c", ["vhdfix/disk/_crc32c.c"], optional=True)])
