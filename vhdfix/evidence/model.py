"""Evidence: typed observations from the Windows volume, each with its source.

A *fact* is a named value the article rules test (``setup.OOBEInProgress``,
``pa.unattend_wsf``...). Each fact is backed by evidence items that say where
it came from: a registry value (hive, key, name), a file (path, size) or log
lines (path, lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from vhdfix.errors import InputError

FactValue = Any  # int | str | bool | list[str] | bytes | None


@dataclass(frozen=True)
class RegistryEvidence:
    fact: str
    hive: str
    key: str
    name: str
    value: FactValue
    type: str

    def to_json(self) -> dict[str, object]:
        value = self.value.hex() if isinstance(self.value, bytes) else self.value
        return {"kind": "registry", "fact": self.fact, "hive": self.hive, "key": self.key, "name": self.name,
                "value": value, "type": self.type}


@dataclass(frozen=True)
class FileEvidence:
    fact: str
    path: str
    size: int
    is_dir: bool = False
    note: str = ""

    def to_json(self) -> dict[str, object]:
        result: dict[str, object] = {"kind": "file", "fact": self.fact, "path": self.path, "size": self.size}
        if self.is_dir:
            result["is_dir"] = True
        if self.note:
            result["note"] = self.note
        return result


@dataclass(frozen=True)
class LogEvidence:
    fact: str
    path: str
    lines: tuple[str, ...]
    truncated: bool = False

    def to_json(self) -> dict[str, object]:
        return {"kind": "log", "fact": self.fact, "path": self.path, "lines": list(self.lines),
                "truncated": self.truncated}


Evidence = RegistryEvidence | FileEvidence | LogEvidence


@dataclass
class EvidenceSet:
    """Facts for the rules, the evidence behind them, and what could not be read."""

    facts: dict[str, FactValue] = field(default_factory=dict)
    items: list[Evidence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, item: Evidence) -> None:
        self.items.append(item)

    def set(self, fact: str, value: FactValue) -> None:
        self.facts[fact] = value

    def get(self, fact: str) -> FactValue:
        return self.facts.get(fact)

    @contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Read ``what`` in the block: a damaged disk (an InputError) ends the block and becomes a warning with the
        error's stable code, not a failed inspection."""
        try:
            yield
        except InputError as exc:
            self.warnings.append(f"{what}: [{exc.code}] {exc.message}")

    def sources(self, fact: str) -> list[Evidence]:
        return [item for item in self.items if item.fact == fact]
