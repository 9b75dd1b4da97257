"""``inspect``: open a disk, find its Windows volume, and describe what was found.

This is the Python API behind ``vhdfix inspect``; :meth:`Inspection.to_json`
is exactly the JSON the CLI prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from vhdfix.budget import DEFAULT_TIME_BUDGET, time_budget
from vhdfix.diagnosis import Article, Diagnosis, diagnose, load_catalog
from vhdfix.disk import Container, open_disk
from vhdfix.errors import (
    InputUnreadable,
    InternalError,
    NotADiskImage,
    NoWindowsVolume,
    TimeBudgetExceeded,
    VhdfixError,
    foreign_errors,
)
from vhdfix.evidence import EvidenceSet, collect_evidence
from vhdfix.evidence.linux import linux_evidence
from vhdfix.fallback import FallbackTarget, open_fallback
from vhdfix.partitions import PartitionTable, read_partition_table
from vhdfix.remote import display_name
from vhdfix.windows import VolumeSurvey, WindowsVolume, find_windows_volume
from vhdfix.windows.bcd import BcdReading, find_bcd
from vhdfix.windows.files import WindowsFiles
from vhdfix.windows.hives import HiveReading, load_hive

SCHEMA = "vhdfix.inspect/1"


@dataclass
class Inspection:
    path: str
    disk: Container | None = None
    table: PartitionTable | None = None
    windows: WindowsVolume | None = None
    surveys: list[VolumeSurvey] = field(default_factory=list)
    hives: list[HiveReading] = field(default_factory=list)
    bcd: BcdReading | None = None  # the boot store, found outside the Windows volume (System Reserved or ESP)
    evidence: EvidenceSet | None = None
    diagnosis: Diagnosis | None = None
    error: VhdfixError | None = None
    fallback: FallbackTarget | None = None  # opened through dissect.target: vhdfix's own openers did not

    def close(self) -> None:
        """Close the disk (``inspect(..., keep_open=True)`` leaves it open); closing twice is harmless."""
        if self.disk is not None:
            self.disk.close()

    def __enter__(self) -> Inspection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def warnings(self) -> list[str]:
        found: list[str] = []
        if self.fallback is not None:
            found.append(self.fallback.warning)
        if self.disk is not None:
            found += self.disk.warnings
        if self.table is not None and self.table.warnings:
            found += self.table.warnings
        if self.windows is not None:
            found += [f"Windows volume: {problem}" for problem in self.windows.state.problems]
        if self.evidence is not None:
            found += self.evidence.warnings
        return found

    @property
    def article(self) -> Article | None:
        best = self.diagnosis.best if self.diagnosis else None
        return best.article if best else None

    @property
    def exit_code(self) -> int:
        """0: no article applies; 1: an article applies; 3: the disk could not be inspected."""
        if self.error is not None:
            return 3
        return 1 if self.article is not None else 0

    def disk_json(self) -> dict[str, object]:
        if self.disk is None:
            return {"path": self.path}
        info = self.disk.info
        return {"path": self.path, "format": info.format, "variant": info.variant,
                "virtual_size": info.virtual_size, "sector_size": info.sector_size,
                "chain": [link.to_json() for link in self.disk.chain]}

    def to_json(self) -> dict[str, object]:
        result: dict[str, object] = {"schema": SCHEMA, "disk": self.disk_json()}
        if self.fallback is not None:
            result["fallback"] = self.fallback.to_json()
        if self.error is not None:
            result["error"] = self.error.to_json()
            return result
        result["partition_table"] = self.table.to_json() if self.table else None
        result["volumes"] = [s.to_json() for s in self.surveys]
        result["windows_volume"] = self.windows.to_json() if self.windows else None
        result["hives"] = [reading.to_json() for reading in self.hives]
        article = self.article
        result["article"] = article.id if article else None
        result["state"] = self.diagnosis.state if self.diagnosis else "unknown"
        result["tied"] = self.diagnosis.tied_json() if self.diagnosis else []
        result["screen_text"] = self.diagnosis.screen.to_json() if self.diagnosis and self.diagnosis.screen else None
        result["matches"] = [match.to_json() for match in self.diagnosis.matches] if self.diagnosis else []
        result["evidence"] = [item.to_json() for item in self.evidence.items] if self.evidence else []
        result["facts"] = self.evidence.facts if self.evidence else {}
        result["remedy"] = [step.to_json() for step in article.remedy] if article else []
        result["warnings"] = self.warnings
        return result


def _read_windows(result: Inspection, files: WindowsFiles, catalog: list[Article], screen_text: str | None,
                  bcd: BcdReading | None = None, bcd_warnings: Sequence[str] = ()) -> None:
    system, software = load_hive(files, "SYSTEM"), load_hive(files, "SOFTWARE")
    result.hives, result.bcd = [system, software], bcd
    result.evidence = collect_evidence(files, system, software, bcd)
    result.evidence.warnings.extend(bcd_warnings)
    result.diagnosis = diagnose(catalog, result.evidence, screen_text)


def inspect_target(fallback: FallbackTarget, catalog: list[Article] | None = None,
                   budget_seconds: float | None = DEFAULT_TIME_BUDGET, screen_text: str | None = None) -> Inspection:
    """Inspect the Windows files of an input dissect.target opened (the dissect plugin's case); never raises."""
    result = Inspection(fallback.path, fallback=fallback)
    try:
        catalog = catalog if catalog is not None else load_catalog()
        with foreign_errors(InternalError, f"{fallback.path}: unexpected error"), \
                time_budget(budget_seconds, f"inspecting {fallback.path}"):
            _read_windows(result, fallback.files, catalog, screen_text)
    except VhdfixError as exc:
        result.error = exc
    return result


def inspect(path: str | os.PathLike[str], parents: Sequence[str | os.PathLike[str]] = (),
            follow_parent_paths: bool = False, catalog: list[Article] | None = None,
            budget_seconds: float | None = DEFAULT_TIME_BUDGET, keep_open: bool = False,
            screen_text: str | None = None) -> Inspection:
    """Inspect one disk image. Never raises for a bad image: the error is in the result.

    ``budget_seconds`` bounds the time spent on the disk (None: unbounded); when
    it runs out the error is ``time-budget-exceeded`` (vhdfix.budget). With
    ``keep_open`` a successful inspection leaves its disk open, so the caller
    can go on with what was read (a repair plans on it) and closes it with
    :meth:`Inspection.close`; a failed one is always closed. ``screen_text`` is
    what the VM's boot-diagnostics screenshot shows, to break ties between
    articles the disk cannot tell apart (:mod:`vhdfix.diagnosis.decide`). An
    input vhdfix's own openers do not recognise (an Acquire collection, a
    directory, E01...) is opened through dissect.target (vhdfix.fallback), read only.
    """
    shown = display_name(os.fspath(path))  # a URL without its query string: a SAS is a credential
    result = Inspection(shown)
    try:
        catalog = catalog if catalog is not None else load_catalog()
        # a defect in vhdfix must still honour the JSON/exit-code contract
        with foreign_errors(InternalError, f"{shown}: unexpected error"), \
                time_budget(budget_seconds, f"inspecting {shown}"):
            try:
                result.disk = open_disk(path, parents, follow_parent_paths)
            except (NotADiskImage, InputUnreadable) as exc:
                result.fallback = open_fallback(path, exc)
                _read_windows(result, result.fallback.files, catalog, screen_text)
                return result
            result.table = read_partition_table(result.disk)
            try:
                result.windows, result.surveys = find_windows_volume(result.disk, result.table)
            except NoWindowsVolume:
                result.evidence = linux_evidence(result.disk, result.table)  # the GRUB articles' disks
                if result.evidence is None:
                    raise
                result.diagnosis = diagnose(catalog, result.evidence, screen_text)
            else:
                bcd, bcd_warnings = find_bcd(result.disk, result.table)
                _read_windows(result, result.windows.ntfs, catalog, screen_text, bcd, bcd_warnings)
            result.disk.check_unchanged()  # a blob that changed or failed while it was read is no result
    except VhdfixError as exc:
        result.error = exc
        if result.disk is not None and not isinstance(exc, TimeBudgetExceeded):
            # a blob that failed mid-read may have surfaced as damage (a missing volume): its own error is the cause
            try:
                result.disk.check_unchanged()
            except VhdfixError as remote:
                result.error = remote
    finally:
        if not keep_open or result.error is not None or result.diagnosis is None:  # None: interrupted
            result.close()
    return result
