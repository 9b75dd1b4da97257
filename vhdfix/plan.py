"""A repair plan is pure data: byte patches on the virtual disk, grouped in steps, each with its reason.

It is what ``--dry-run`` prints, what the audit record keeps, and the only
input of the writers: the copy engine splices the patches into the stream it
writes, and the container patcher applies them to an existing copy.
Offsets are virtual-disk offsets (the disk as the VM sees it), never
container-file offsets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BytePatch:
    offset: int  # virtual-disk offset of the first byte
    old: bytes  # what must be there now; the writers refuse when it is not
    new: bytes  # same length as ``old``
    reason: str  # e.g. "MFT record 68 (Windows\\OEM\\Unattend.wsf): clear IN_USE, sequence 3 -> 4"

    def __post_init__(self) -> None:
        if len(self.old) != len(self.new):
            raise ValueError("a byte patch must not change the length of what it replaces")
        if self.offset < 0:
            raise ValueError("negative patch offset")

    @property
    def end(self) -> int:
        return self.offset + len(self.new)

    def to_json(self) -> dict[str, object]:
        return {"offset": self.offset, "length": len(self.new), "old": self.old.hex(), "new": self.new.hex(),
                "reason": self.reason}


@dataclass
class PlanStep:
    id: str  # the remedy step id from the article, e.g. "remove-unattend-wsf"
    text: str
    documented: bool
    source: str
    patches: list[BytePatch] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "documented": self.documented, "source": self.source,
                "patches": [patch.to_json() for patch in self.patches]}


@dataclass
class WritePlan:
    steps: list[PlanStep] = field(default_factory=list)

    @property
    def patches(self) -> list[BytePatch]:
        """Every patch, sorted by offset; overlapping patches are refused."""
        ordered = sorted((p for step in self.steps for p in step.patches), key=lambda p: p.offset)
        for before, after in itertools.pairwise(ordered):
            if after.offset < before.end:
                raise ValueError(f"patches overlap at virtual offset {after.offset}: "
                                 f"{before.reason!r} and {after.reason!r}")
        return ordered

    def to_json(self) -> dict[str, object]:
        return {"steps": [step.to_json() for step in self.steps]}
