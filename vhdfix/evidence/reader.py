"""Reads for the evidence: a damaged file or key becomes a warning, not a failed inspection."""

from __future__ import annotations

from collections.abc import Sequence

from vhdfix.evidence.model import EvidenceSet, RegistryEvidence
from vhdfix.evidence.text import text_lines
from vhdfix.windows.files import FileStat, WindowsFiles
from vhdfix.windows.hives import HiveReading

KEY_TYPE = "key"  # RegistryEvidence.type for a key whose existence is the fact


class VolumeReader:
    """Reads of the Windows files that turn a damaged file into a warning rather than a failed inspection."""

    def __init__(self, files: WindowsFiles, evidence: EvidenceSet) -> None:
        self.files = files
        self.evidence = evidence

    def read(self, path: str, limit: int, tail: bool = False) -> tuple[bytes, bool] | None:
        with self.evidence.reading(f"{path}: could not be read"):
            found = self.files.read_file(path, limit, tail)
            if found is not None and found[1]:
                where = "last" if tail else "first"
                self.evidence.warnings.append(f"{path}: larger than {limit} bytes; only its {where} {limit} bytes "
                                              "read")
            return found
        return None

    def stat(self, path: str) -> FileStat | None:
        with self.evidence.reading(f"{path}: could not be read"):
            return self.files.stat(path)
        return None

    def list_dir(self, path: str) -> Sequence[FileStat]:
        with self.evidence.reading(f"{path}: could not be listed"):
            return self.files.list_dir(path)
        return []

    def lines(self, path: str, limit: int, tail: bool = False) -> tuple[list[str], bool] | None:
        found = self.read(path, limit, tail)
        if found is None:
            return None
        data, cut = found
        return text_lines(data, cut_at_start=cut and tail), cut


def key_exists(evidence: EvidenceSet, reading: HiveReading, fact: str, key: str) -> None:
    """Set ``fact`` to whether ``key`` exists in the hive (None when the hive is unreadable)."""
    evidence.set(fact, None)
    if reading.hive is None:
        return
    with evidence.reading(f"{reading.name}\\{key}"):
        found = reading.hive.key(key)
        evidence.set(fact, found is not None)
        if found is not None:
            evidence.add(RegistryEvidence(fact, reading.name, found.path, "", f"key exists, {found.value_count} "
                                          f"values, {found.subkey_count} subkeys", KEY_TYPE))
