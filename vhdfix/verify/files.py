"""Compare the files of two Windows volumes: every file a repair did not touch must be byte-identical.

The two trees are walked together, one directory at a time, so memory stays
bounded by the largest directory. Each regular file's unnamed data stream is
hashed on both sides (SHA-256). NTFS metafiles (``$MFT``, ``$Bitmap``, ...)
are skipped: removing a file legitimately changes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from vhdfix.diagnosis import RemedyStep
from vhdfix.errors import CorruptVolume, foreign_errors
from vhdfix.ntfs import FileInfo, NtfsVolume
from vhdfix.verify.check import Check

HASH_CHUNK = 1 << 20
MAX_PROBLEMS = 20


def file_digest(volume: NtfsVolume, info: FileInfo) -> str:
    """SHA-256 of the file's unnamed data stream, read through the volume's own reader."""
    record = volume.record(info.record)
    if record is None:
        raise CorruptVolume(f"{volume.label}: {info.path}: record {info.record} is not in use")
    digest = hashlib.sha256()
    with foreign_errors(CorruptVolume, f"{volume.label}: reading {info.path}"):
        stream = record.open()
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _key(path: str) -> str:
    return path.casefold()


@dataclass
class TreeComparison:
    files: int = 0  # untouched files compared
    bytes_hashed: int = 0  # on each side
    removed: list[str] = field(default_factory=list)  # expected removals, found removed
    changed: list[str] = field(default_factory=list)  # expected changes (not compared)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def to_json(self) -> dict[str, object]:
        return {"files_compared": self.files, "bytes_hashed": self.bytes_hashed, "removed": self.removed,
                "changed": self.changed, "problems": self.problems[:MAX_PROBLEMS],
                "problem_count": len(self.problems)}


def compare_trees(before: NtfsVolume, after: NtfsVolume, removed: Collection[str],
                  changed: Collection[str]) -> TreeComparison:
    """Walk both volumes. Paths in ``removed`` must be gone from ``after``; paths in ``changed`` may differ;
    every other file and directory must be present on both sides with the same content."""
    result = TreeComparison()
    expected_gone = {_key(path): path for path in removed}
    may_change = {_key(path) for path in changed}
    pending = [""]
    while pending:
        directory = pending.pop()
        old = {_key(info.path): info for info in before.list_dir(directory)
               if directory or not info.path.startswith("$")}
        new = {_key(info.path): info for info in after.list_dir(directory)
               if directory or not info.path.startswith("$")}
        for key in sorted(old.keys() - new.keys()):
            if key in expected_gone:
                result.removed.append(old[key].path)
            else:
                result.problem(f"{old[key].path}: missing from the copy")
        for key in sorted(new.keys() - old.keys()):
            result.problem(f"{new[key].path}: in the copy but not in the input")
        for key in sorted(old.keys() & new.keys()):
            first, second = old[key], new[key]
            if key in expected_gone:
                result.problem(f"{first.path}: still present in the copy")
            elif first.is_dir != second.is_dir:
                result.problem(f"{first.path}: a directory on one side only")
            elif first.is_dir:
                pending.append(first.path)
            elif key in may_change:
                result.changed.append(first.path)
            elif first.size != second.size:
                result.problem(f"{first.path}: {first.size} bytes in the input, {second.size} in the copy")
            else:
                result.files += 1
                result.bytes_hashed += first.size
                if file_digest(before, first) != file_digest(after, second):
                    result.problem(f"{first.path}: content differs")
    return result


def files_check(before: NtfsVolume, after: NtfsVolume, steps: Sequence[RemedyStep]) -> Check:
    """The repair's ``untouched-files`` check: only the files ``steps`` remove or change differ."""
    removed = [path for step in steps for path in step.action.removed_files]
    changed = list(dict.fromkeys(path for step in steps for path in step.action.changed_files))
    comparison = compare_trees(before, after, removed, changed)
    detail = (f"{comparison.files} untouched files identical ({comparison.bytes_hashed} bytes hashed), "
              f"{len(comparison.removed)} removed, {len(comparison.changed)} changed as planned")
    if not comparison.passed:
        detail = f"{len(comparison.problems)} difference(s): {'; '.join(comparison.problems[:3])}"
    return Check("untouched-files", comparison.passed, detail, comparison.to_json())
