"""vhdfix: offline diagnosis and repair of broken Azure Windows VM OS disks.

The public API: :func:`inspect` (the data of ``vhdfix inspect --json``) and
:func:`repair` (the data of ``vhdfix repair --json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# repair is bound here: importing the module of the same name would otherwise leave ``vhdfix.repair`` pointing at
# the module. vhdfix.repair imports its readers lazily.
from vhdfix.repair import repair
from vhdfix.version import __version__

if TYPE_CHECKING:
    from vhdfix.inspection import inspect

__all__ = ["__version__", "inspect", "repair"]


def __getattr__(name: str) -> object:
    """``vhdfix.inspect`` is loaded on first use, so that ``import vhdfix.disk`` stays cheap."""
    if name == "inspect":
        from vhdfix.inspection import inspect

        return inspect
    raise AttributeError(f"module 'vhdfix' has no attribute {name!r}")
