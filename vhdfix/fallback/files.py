"""A dissect.target target's Windows system volume, read as :class:`vhdfix.windows.files.WindowsFiles`."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vhdfix.errors import DissectFailed, FallbackTooLarge, foreign_errors

if TYPE_CHECKING:
    from dissect.target import Target
    from dissect.target.helpers.fsutil import TargetPath

MAX_LISTING = 100_000  # as vhdfix.ntfs.volume: more entries than any directory evidence is collected from


@dataclass(frozen=True)
class TargetFile:
    path: str
    size: int
    is_dir: bool


def _parts(path: str) -> list[str]:
    return [part for part in path.replace("/", "\\").split("\\") if part]


class TargetFiles:
    """The files under the target's ``sysvol`` (the volume dissect's Windows plugin found Windows on).

    Only regular files and directories count: a device, a socket or a dangling
    link (a copied tree may hold anything) is absent. Every dissect exception
    becomes :class:`DissectFailed` naming the path.
    """

    def __init__(self, target: Target, label: str) -> None:
        self.label = label
        with foreign_errors(DissectFailed, f"{label}: the system volume"):
            self.root: TargetPath = target.fs.path("sysvol")

    def _lookup(self, path: str) -> tuple[TargetPath, TargetFile] | None:
        where = self.root.joinpath(*_parts(path))
        try:
            info = where.stat()  # follows links, as Windows would open the file
        except (FileNotFoundError, NotADirectoryError):
            return None
        windows_path = "\\".join(_parts(path))
        if stat.S_ISDIR(info.st_mode):
            return where, TargetFile(windows_path, 0, True)
        if stat.S_ISREG(info.st_mode):
            return where, TargetFile(windows_path, info.st_size, False)
        return None

    def stat(self, path: str) -> TargetFile | None:
        with foreign_errors(DissectFailed, f"{self.label}: looking up {path}"):
            found = self._lookup(path)
        return found[1] if found else None

    def read_file(self, path: str, limit: int, tail: bool = False) -> tuple[bytes, bool] | None:
        with foreign_errors(DissectFailed, f"{self.label}: reading {path}"):
            found = self._lookup(path)
            if found is None or found[1].is_dir:
                return None
            where, info = found
            with where.open("rb") as stream:
                if tail and info.size > limit:
                    stream.seek(info.size - limit)
                data = stream.read(min(info.size, limit))
        return data, info.size > limit

    def list_dir(self, path: str) -> list[TargetFile]:
        base = "\\".join(_parts(path))
        entries: list[TargetFile] = []
        with foreign_errors(DissectFailed, f"{self.label}: listing {path}"):
            found = self._lookup(path)
            if found is None or not found[1].is_dir:
                return []
            for child in found[0].iterdir():
                if len(entries) >= MAX_LISTING:
                    raise FallbackTooLarge(f"{self.label}: {path} lists more than {MAX_LISTING} entries")
                name = child.name
                looked_up = self._lookup(f"{base}\\{name}" if base else name)
                if looked_up is not None:
                    entries.append(looked_up[1])
        return entries
