"""Where a differencing disk's parent is looked for, and how far a chain may go.

Paths stored inside an image are untrusted. By default only their file-name
part is used, looked up beside the child. The stored relative or absolute
path is followed only when the caller allows it (``follow_locator_paths``),
and an explicit parent given by the user always wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from vhdfix.errors import ParentLoop, ParentMissing

MAX_CHAIN_DEPTH = 32
UNSAFE_NAME_CHARACTERS = frozenset('<>:"|?*\0')


@dataclass
class ParentHints:
    """What a child records about its parent, in the child's own words."""

    relative_paths: list[str] = field(default_factory=list)
    absolute_paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def describe(self) -> str:
        known = self.relative_paths + self.absolute_paths + self.names
        return ", ".join(dict.fromkeys(known)) or "no parent locator"


def file_name(stored_path: str) -> str:
    """The last component of a stored path, or "" when it is not a plain file name on every host OS."""
    name = PureWindowsPath(stored_path.replace("/", "\\")).name
    if name in (".", "..") or any(char in UNSAFE_NAME_CHARACTERS or ord(char) < 32 for char in name):
        return ""  # NUL would make the lookup raise; ':' names an alternate data stream on Windows hosts
    return name


@dataclass
class ParentPolicy:
    """The user's say: explicit parents in chain order, and whether stored paths are trusted."""

    explicit: list[Path] = field(default_factory=list)
    follow_locator_paths: bool = False

    def candidates(self, child: Path, depth: int, hints: ParentHints) -> list[Path]:
        if depth < len(self.explicit):
            return [self.explicit[depth]]
        beside = child.parent
        found: list[Path] = []
        for stored in hints.relative_paths + hints.absolute_paths + hints.names:
            name = file_name(stored)
            if name:
                found.append(beside / name)
        if self.follow_locator_paths:
            for rel in hints.relative_paths:
                if "\0" not in rel:
                    found.append(beside / Path(*PureWindowsPath(rel.replace("/", "\\")).parts))
            for absolute in hints.absolute_paths:
                if "\0" not in absolute:
                    found.append(Path(absolute) if os.name == "nt" else Path(absolute.replace("\\", "/")))
        return list(dict.fromkeys(found))

    def locate(self, child: Path, depth: int, hints: ParentHints, seen: set[str]) -> Path:
        """The parent file of ``child``, which sits at ``depth`` in the chain (0 = top)."""
        if depth >= MAX_CHAIN_DEPTH:
            raise ParentLoop(f"{child.name}: differencing chain deeper than {MAX_CHAIN_DEPTH} disks")
        for candidate in self.candidates(child, depth, hints):
            if candidate.is_file():
                if os.path.realpath(candidate) in seen:
                    raise ParentLoop(f"{child.name}: parent {candidate} is already in the chain")
                return candidate
        if depth < len(self.explicit):
            raise ParentMissing(f"{child.name}: the given parent {self.explicit[depth]} does not exist")
        hint = " (stored paths are not followed without --follow-parent-paths)" if hints.relative_paths or \
            hints.absolute_paths else ""
        raise ParentMissing(f"{child.name}: parent disk not found beside it; it records "
                            f"{hints.describe()}; give it with --parent{hint}")
