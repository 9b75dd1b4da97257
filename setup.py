"""The optional compiled Marvin32 (everything else is in pyproject.toml).

``optional=True``: when the extension cannot be compiled (no compiler, no Python headers), setuptools warns
and installs vhdfix without it, and ``vhdfix.registry.marvin32`` uses its pure-Python code.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("vhdfix.registry._marvin32", ["vhdfix/registry/_marvin32.c"], optional=True)])
