"""The read-only view of a Windows installation's files that evidence is collected through.

:class:`vhdfix.ntfs.NtfsVolume` is one (vhdfix's own reader of a disk image);
:class:`vhdfix.fallback.TargetFiles` another (a dissect.target target: an Acquire
collection, a copied tree, an image only dissect opens). Paths are Windows style,
relative to the volume root, any case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FileStat(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def is_dir(self) -> bool: ...


class WindowsFiles(Protocol):
    def read_file(self, path: str, limit: int, tail: bool = False) -> tuple[bytes, bool] | None:
        """Up to ``limit`` bytes of the file (its start, or its end with ``tail``) and whether it was cut short;
        None if absent or not a file. A damaged file raises an :class:`vhdfix.errors.InputError`."""
        ...

    def stat(self, path: str) -> FileStat | None: ...

    def list_dir(self, path: str) -> Sequence[FileStat]: ...
