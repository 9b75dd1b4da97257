"""Compare the directories a repair touched on two Windows volumes: only the planned files may differ.

The block-level proof (:mod:`vhdfix.verify.blocks`) shows that every byte the
plan does not patch is the input's, file contents included; this check reads
the directories the plan does patch as a file system would. Each directory
holding a removed or changed file is listed on both sides (not recursively):
the planned removals must be gone, nothing else may be missing or new, and
every other entry must name the same MFT record (number and sequence) with
the same size. NTFS metafiles (``$MFT``, ``$Bitmap``, ...) are skipped:
removing a file legitimately changes them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from vhdfix.diagnosis import RemedyStep
from vhdfix.ntfs import NtfsVolume
from vhdfix.verify.check import Check

MAX_PROBLEMS = 20


def _key(path: str) -> str:
    return path.casefold()


@dataclass
class TreeComparison:
    directories: int = 0  # directories listed on both sides
    files: int = 0  # other entries compared (files and directories)
    removed: list[str] = field(default_factory=list)  # expected removals, found removed
    changed: list[str] = field(default_factory=list)  # expected changes (not compared)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def to_json(self) -> dict[str, object]:
        return {"directories_compared": self.directories, "files_compared": self.files, "removed": self.removed,
                "changed": self.changed, "problems": self.problems[:MAX_PROBLEMS],
                "problem_count": len(self.problems)}


def _parent(path: str) -> str:
    return path.rpartition("\\")[0]


def compare_directories(before: NtfsVolume, after: NtfsVolume, removed: Collection[str],
                        changed: Collection[str]) -> TreeComparison:
    """List the parent directories of ``removed`` and ``changed`` on both volumes. Paths in ``removed`` must be
    gone from ``after``; paths in ``changed`` may differ; every other entry must be present on both sides, and
    every other file have the same content."""
    result = TreeComparison()
    expected_gone = {_key(path): path for path in removed}
    may_change = {_key(path) for path in changed}
    directories = {_key(_parent(path)): _parent(path) for path in (*removed, *changed)}
    for _, directory in sorted(directories.items()):
        result.directories += 1
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
            elif key in may_change:
                result.changed.append(first.path)
            elif first.size != second.size:
                result.problem(f"{first.path}: {first.size} bytes in the input, {second.size} in the copy")
            elif (first.record, first.sequence) != (second.record, second.sequence):
                result.problem(f"{first.path}: MFT record {first.record}/{first.sequence} in the input, "
                               f"{second.record}/{second.sequence} in the copy")
            else:
                result.files += 1
    return result


def files_check(before: NtfsVolume, after: NtfsVolume, steps: Sequence[RemedyStep]) -> Check:
    """The repair's ``untouched-files`` check: only the files ``steps`` remove or change differ."""
    removed = [path for step in steps for path in step.action.removed_files]
    changed = list(dict.fromkeys(path for step in steps for path in step.action.changed_files))
    comparison = compare_directories(before, after, removed, changed)
    detail = (f"in the {comparison.directories} touched directories: {comparison.files} other entries unchanged, "
              f"{len(comparison.removed)} removed, {len(comparison.changed)} changed as planned")
    if not comparison.passed:
        detail = f"{len(comparison.problems)} difference(s): {'; '.join(comparison.problems[:3])}"
    return Check("untouched-files", comparison.passed, detail, comparison.to_json())
