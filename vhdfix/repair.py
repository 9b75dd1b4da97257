"""``repair``: diagnose a disk, plan its article's remedy, write the repaired copy, and prove it.

This is the Python API behind ``vhdfix repair``; :meth:`RepairResult.to_json`
is exactly the JSON the command prints. The input is only ever read. The copy
is written in OUT's directory as an unnamed file (Linux; elsewhere under a
temporary name, :mod:`vhdfix.copy.temporaries`), verified from scratch, and
only then named OUT. Either side may be a blob URL: a URL output is a fixed VHD
written into a page blob (:mod:`vhdfix.copy.blob_output`), verified by reading
it back, and undone on failure.

Which steps are written: the article's ``documented`` disk steps, plus each
``extended`` (not documented by Microsoft) step the caller names. Manual steps
(VM settings, restoring a backup) are reported, never written.

The heavy readers are imported when a repair runs, so that ``import vhdfix``
stays cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vhdfix.errors import (
    DiagnosisTied,
    FallbackNotRepairable,
    InternalError,
    OutputError,
    OutputExists,
    OutputInvalid,
    OutputIsInput,
    RefusedUnsafe,
    RemoteUrlInvalid,
    RepairUsageError,
    StepNotInRemedy,
    VerificationFailed,
    VhdfixError,
    foreign_errors,
)
from vhdfix.plan import WritePlan

if TYPE_CHECKING:
    from vhdfix.copy import BlobOutput, CopyProgress, CopyResult, ProgressCallback
    from vhdfix.diagnosis import Article, Diagnosis, RemedyStep
    from vhdfix.inspection import Inspection
    from vhdfix.remote import BlobUrl
    from vhdfix.report.style import Style
    from vhdfix.verify import Check
    from vhdfix.writer import WriteContext

SCHEMA = "vhdfix.repair/1"
EXIT_REPAIRED = 0
EXIT_NOTHING_TO_REPAIR = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_REFUSED = 4
EXIT_OUTPUT = 5


# Called with the path (or blob URL) of the written, synced, not yet verified copy, between the copy and its
# verification: tests use it to damage a copy at a known point and show that verification catches it.
AfterCopy = Callable[[str], None]


@dataclass
class Phase:
    """Where a repair's time went: one phase's wall-clock seconds and the bytes it read and wrote."""

    seconds: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0

    def to_json(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written}


PHASES = ("diagnosis", "plan", "copy", "verification")


# The seam to the surgical writer (vhdfix.writer): a planner turns remedy steps into byte patches on the input's
# virtual disk, planning on what the inspection read (the open input, its Windows volume and hives), so nothing is
# read twice. repair() takes another planner as a parameter (tests use it to check what is, or is not, planned).
Planner = Callable[["WriteContext", Sequence["RemedyStep"]], WritePlan]


def writer_planner(context: WriteContext, steps: Sequence[RemedyStep]) -> WritePlan:
    """The surgical writer's plan for ``steps`` on the input; its gates raise RefusedUnsafe."""
    from vhdfix.writer import plan_actions

    return plan_actions(context, steps)


@dataclass
class StepChoice:
    """The article's remedy steps, sorted by what this repair does with them."""

    apply: list[RemedyStep] = field(default_factory=list)
    manual: list[RemedyStep] = field(default_factory=list)
    not_requested: list[RemedyStep] = field(default_factory=list)  # extended steps without their flag


def step_flag(step_id: str) -> str:
    return f"--{step_id}"


def choose_steps(article: Article, extended: Collection[str]) -> StepChoice:
    known = {step.id for step in article.remedy if step.extended}
    unknown = sorted(set(extended) - known)
    if unknown:
        offered = ", ".join(step_flag(step) for step in sorted(known)) or "none"
        raise StepNotInRemedy(f"{', '.join(step_flag(step) for step in unknown)}: not an extended step of "
                              f"{article.id} (its extended steps: {offered})")
    choice = StepChoice()
    for step in article.remedy:
        if not step.writes_disk:
            choice.manual.append(step)
        elif not step.extended or step.id in extended:
            choice.apply.append(step)
        else:
            choice.not_requested.append(step)
    return choice


def _disk_writes(article: Article, extended: Collection[str]) -> tuple[tuple[str, object], ...]:
    return tuple((step.id, step.action) for step in article.remedy
                 if step.writes_disk and (not step.extended or step.id in extended))


def check_tie(diagnosis: Diagnosis, extended: Collection[str]) -> None:
    """Refuse to choose among tied articles that would write different things (with the steps asked for);
    tied articles that write the same (often nothing) are repaired as the first of them."""
    tied = [match.article for match in diagnosis.tied]
    if len({_disk_writes(article, extended) for article in tied}) > 1:
        raise DiagnosisTied(f"the disk shows the same evidence for {', '.join(article.id for article in tied)}, "
                            f"whose remedies write different things; pass --screen-text with the text of the VM's "
                            f"boot-diagnostics screenshot to say which one it shows")


def _same_file(first: Path, second: Path) -> bool:
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return first.samefile(second)
    except OSError:
        return False


def check_output_path(disk: str, output: Path, parents: Sequence[Path], force: bool) -> None:
    """Usage checks on OUT that need no reading: not the input, a file in an existing directory, new
    unless ``force``. The parents found inside the image are checked once it is open; a blob URL input is never
    a local OUT."""
    from vhdfix.remote import is_url

    local_disk = [] if is_url(disk) else [(Path(disk), "the input disk")]
    for path, role in [*local_disk, *((parent, "a parent of the input disk") for parent in parents)]:
        if _same_file(output, path):
            raise OutputIsInput(f"{output}: is {role}; write the copy somewhere else")
    if output.is_dir():
        raise OutputInvalid(f"{output}: is a directory; give the path of the file to write")
    if not output.parent.is_dir():
        raise OutputInvalid(f"{output.parent}: no such directory")
    if output.exists() and not force:
        raise OutputExists(f"{output}: already exists; use --force to replace it")


def output_url(output: str) -> BlobUrl:
    """OUT as a blob URL; a malformed one is a usage error, not an unreadable input."""
    from vhdfix.remote import BlobUrl

    try:
        return BlobUrl.parse(output)
    except RemoteUrlInvalid as exc:
        raise OutputInvalid(exc.message) from None


# Where the blob is a managed disk's upload URL (az disk grant-access --access-level Write), revoking the access ends
# the upload; otherwise a managed disk is made from the page blob. Then the VM's OS disk is swapped.
MANAGED_DISK_HOST = ".blob.storage.azure.net"
SWAP_OS_DISK = ["az vm deallocate -g <resource-group> -n <vm>",
                "az vm update -g <resource-group> -n <vm> --os-disk <disk>",
                "az vm start -g <resource-group> -n <vm>"]


def next_steps(url: BlobUrl) -> list[str]:
    """The commands that put a disk repaired into ``url`` to use (the URL names neither resource group nor VM)."""
    if url.host.endswith(MANAGED_DISK_HOST):
        return ["az disk revoke-access -g <resource-group> -n <disk>", *SWAP_OS_DISK]
    return [f"az disk create -g <resource-group> -n <disk> --os-type Windows --source {url.display}", *SWAP_OS_DISK]


def _exit_code(error: VhdfixError) -> int:
    if isinstance(error, RepairUsageError):
        return EXIT_USAGE
    if isinstance(error, RefusedUnsafe):
        return EXIT_REFUSED
    if isinstance(error, OutputError):
        return EXIT_OUTPUT
    return EXIT_UNREADABLE


@dataclass
class RepairResult:
    input: str
    output: str
    format: str  # as requested
    dry_run: bool
    inspection: Inspection | None = None
    steps: StepChoice | None = None
    plan: WritePlan | None = None
    copy: CopyResult | None = None
    checks: list[Check] = field(default_factory=list)
    outcome: str = "failed"  # repaired, would-repair (dry run), nothing-to-repair, refused, failed
    message: str = ""
    error: VhdfixError | None = None
    exit_code: int = EXIT_UNREADABLE
    destination: BlobOutput | None = None  # OUT as a page blob, once it was looked at
    next_steps: list[str] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)  # the PHASES that ran, in order

    @property
    def article(self) -> Article | None:
        return self.inspection.article if self.inspection is not None else None

    @property
    def verified(self) -> bool | None:
        if not self.checks:
            return None
        return all(check.passed is not False for check in self.checks)

    def finish(self, outcome: str, exit_code: int, message: str) -> None:
        self.outcome, self.exit_code, self.message = outcome, exit_code, message

    def fail(self, error: VhdfixError) -> None:
        code = _exit_code(error)
        self.error = error
        self.finish("refused" if code == EXIT_REFUSED else "failed", code, error.message)

    def diagnosis_json(self) -> dict[str, object]:
        inspection = self.inspection
        if inspection is None or inspection.diagnosis is None:
            return {"article": None, "state": "unknown", "matches": []}
        diagnosis = inspection.diagnosis
        best = diagnosis.best
        return {"article": best.article.id if best else None, "title": best.article.title if best else None,
                "confidence": best.confidence if best else None, "link": best.article.link if best else None,
                "state": diagnosis.state, "tied": diagnosis.tied_json(),
                "screen_text": diagnosis.screen.to_json() if diagnosis.screen else None,
                "matches": [match.to_json() for match in diagnosis.matches], "warnings": inspection.warnings}

    def steps_json(self) -> list[dict[str, object]]:
        if self.steps is None:
            return []
        planned = {step.id for step in self.plan.steps} if self.plan is not None else set()
        out = []
        for disposition, steps in (("write", self.steps.apply), ("manual", self.steps.manual),
                                   ("not-requested", self.steps.not_requested)):
            for step in steps:
                item = {**step.to_json(), "disposition": disposition}
                if not step.documented:
                    item["label"] = "NOT documented by Microsoft"
                if step.extended:
                    item["flag"] = step_flag(step.id)
                if disposition == "write":
                    item["planned"] = step.id in planned
                out.append(item)
        return out

    def to_json(self) -> dict[str, object]:
        output: dict[str, object] = {"path": self.output, "requested_format": self.format, "written": False}
        if self.copy is not None:
            output = {**self.copy.to_json(), "requested_format": self.format, "written": True}
        elif self.destination is not None:
            output["blob"] = self.destination.to_json()
        if self.destination is not None:
            output["cleanup"] = self.destination.cleanup
        result: dict[str, object] = {
            "schema": SCHEMA,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "message": self.message,
            "dry_run": self.dry_run,
            "input": self.inspection.disk_json() if self.inspection is not None else {"path": self.input},
            "diagnosis": self.diagnosis_json(),
            "steps": self.steps_json(),
            "plan": self.plan.to_json() if self.plan is not None else None,
            "verification": {"passed": self.verified, "checks": [check.to_json() for check in self.checks]},
            "output": output,
            "next_steps": self.next_steps,
            "phases": {name: phase.to_json() for name, phase in self.phases.items()},
            "seconds": round(sum(phase.seconds for phase in self.phases.values()), 3),
        }
        if self.error is not None:
            result["error"] = self.error.to_json()
        return result


def repair(disk: str | os.PathLike[str], output: str | os.PathLike[str], *, format: str = "same",
           parents: Sequence[str | os.PathLike[str]] = (), follow_parent_paths: bool = False,
           extended: Collection[str] = (), dry_run: bool = False, force: bool = False,
           progress: ProgressCallback | None = None, planner: Planner = writer_planner,
           catalog: list[Article] | None = None, screen_text: str | None = None,
           after_copy: AfterCopy | None = None) -> RepairResult:
    """Repair ``disk`` into ``output``. Never raises for a bad disk or a refusal: see ``exit_code`` and
    ``error``. Ctrl-C (KeyboardInterrupt) propagates, after the partial copy is removed. ``screen_text`` (what
    the VM's screen shows) picks among tied articles; tied articles that would write different things are
    refused without it (``diagnosis-tied``). ``after_copy`` sees the written copy before it is verified
    (:data:`AfterCopy`)."""
    from vhdfix.remote import display_name

    # A URL stays a string: a Path would fold its "//" and keep its SAS in the name.
    result = RepairResult(display_name(os.fspath(disk)), display_name(os.fspath(output)), format, dry_run)
    try:
        # a defect in vhdfix must still honour the JSON/exit-code contract
        with foreign_errors(InternalError, f"{result.input}: unexpected error"):
            _repair(result, os.fspath(disk), os.fspath(output), [Path(p) for p in parents], follow_parent_paths,
                    extended, force, progress, planner, catalog, screen_text, after_copy)
    except VhdfixError as exc:
        result.fail(exc)
    return result


def _repair(result: RepairResult, disk: str, output: str, parents: list[Path], follow_parent_paths: bool,
            extended: Collection[str], force: bool, progress: ProgressCallback | None, planner: Planner,
            catalog: list[Article] | None, screen_text: str | None, after_copy: AfterCopy | None) -> None:
    from vhdfix.inspection import inspect
    from vhdfix.remote import is_url

    destination: Path | BlobUrl
    if is_url(output):
        destination = output_url(output)
    else:
        destination = Path(output)
        check_output_path(disk, destination, parents, force)
    started = time.monotonic()
    result.inspection = inspect(disk, parents, follow_parent_paths, catalog, keep_open=True, screen_text=screen_text)
    source = result.inspection.disk
    result.phases["diagnosis"] = Phase(time.monotonic() - started, source.bytes_read if source is not None else 0)
    with result.inspection:
        if result.inspection.error is not None:
            raise result.inspection.error
        if result.inspection.fallback is not None:
            raise FallbackNotRepairable(f"{result.input}: read only through dissect.target's "
                                        f"{result.inspection.fallback.loader} loader; vhdfix writes only disk images "
                                        "it reads itself (VHD, VHDX, raw...): repair the disk this was taken from")
        _repair_inspected(result, result.inspection, destination, extended, force, progress, planner, after_copy)


def _repair_inspected(result: RepairResult, inspection: Inspection, output: Path | BlobUrl,
                      extended: Collection[str], force: bool, progress: ProgressCallback | None,
                      planner: Planner, after_copy: AfterCopy | None) -> None:
    """Plan on what ``inspection`` read (its disk is open), copy, and verify."""
    from vhdfix.copy import BlobOutput, refuse_overwriting_input, resolve_blob_target, resolve_target
    from vhdfix.remote import BlobUrl

    article = inspection.article
    if article is None:
        state = inspection.diagnosis.state if inspection.diagnosis is not None else "unknown"
        result.finish("nothing-to-repair", EXIT_NOTHING_TO_REPAIR,
                      f"no boot-error article applies to this disk (state: {state}); nothing was written")
        return
    assert inspection.diagnosis is not None and inspection.diagnosis.best is not None, "an article has a match"
    check_tie(inspection.diagnosis, extended)
    result.steps = choose_steps(article, extended)
    if not inspection.diagnosis.best.disk_evidence:
        # Named by the screen alone, the disk shows no cause to fix: only a preparation asked for by name (the
        # memory-dump settings of the articles whose remedy is a dump) is written.
        result.steps.apply = [step for step in result.steps.apply if step.on_request]
        if not result.steps.apply:
            offered = [step_flag(step.id) for step in article.remedy if step.on_request]
            hint = f"; on request: {', '.join(offered)}" if offered else ""
            result.finish("nothing-to-repair", EXIT_NOTHING_TO_REPAIR,
                          f"{article.id}: named by the screen text only, the disk shows no sign of its cause; "
                          f"nothing was written{hint}")
            return
    steps = result.steps.apply
    if not steps:
        documented = [step for step in article.remedy if step.documented and step.writes_disk]
        reason = "Microsoft documents no disk fix for it" if not documented else "no step changes the disk"
        offered = [step_flag(step.id) for step in result.steps.not_requested]
        kinds = "documented" if all(step.documented for step in result.steps.not_requested) else \
            "not documented by Microsoft"
        hint = f"; {kinds}, on request: {', '.join(offered)}" if offered else ""
        result.finish("nothing-to-repair", EXIT_NOTHING_TO_REPAIR,
                      f"{article.id}: {reason}; nothing was written{hint}")
        return

    source = inspection.disk
    assert source is not None, "a successful inspection has read it"
    if isinstance(output, BlobUrl):
        resolve_blob_target(result.format, source)
        refuse_overwriting_input(output, source)
        result.destination = BlobOutput(output, source.virtual_size, force)
        try:
            result.destination.check()  # its usage errors before the plan, and in a dry run too
            _plan_and_copy(result, inspection, result.destination, steps, force, progress, planner, after_copy)
        finally:
            result.destination.close()
        if result.exit_code == EXIT_REPAIRED and not result.dry_run:
            result.next_steps = next_steps(output)
        return
    resolve_target(result.format, source)
    refuse_overwriting_input(output, source)
    _plan_and_copy(result, inspection, output, steps, force, progress, planner, after_copy)


def _plan_and_copy(result: RepairResult, inspection: Inspection, output: Path | BlobOutput,
                   steps: Sequence[RemedyStep], force: bool, progress: ProgressCallback | None,
                   planner: Planner, after_copy: AfterCopy | None) -> None:
    from vhdfix.budget import DEFAULT_TIME_BUDGET, time_budget
    from vhdfix.copy import BlockDigests, copy_disk
    from vhdfix.verify import verify_output
    from vhdfix.writer import context_of

    article, source, windows = inspection.article, inspection.disk, inspection.windows
    assert article is not None and source is not None and windows is not None, "a successful inspection has them"
    started, read = time.monotonic(), source.bytes_read
    with time_budget(DEFAULT_TIME_BUDGET, f"planning the repair of {inspection.path}"):
        plan = result.plan = planner(context_of(source, windows, inspection.hives, inspection.bcd), steps)
    result.phases["plan"] = Phase(time.monotonic() - started, source.bytes_read - read)
    if not plan.patches:
        result.finish("nothing-to-repair", EXIT_NOTHING_TO_REPAIR,
                      f"{article.id}: the plan changes no byte (already repaired?); nothing was written")
        return
    if result.dry_run:
        result.finish("would-repair", EXIT_REPAIRED, f"dry run: {len(plan.patches)} byte patches planned for "
                                                     f"{article.id}; nothing was written")
        return

    digests = BlockDigests(source.virtual_size, plan.patches)
    copy = result.phases["copy"] = Phase()
    started, read = time.monotonic(), source.bytes_read

    def copying(report: CopyProgress) -> None:
        copy.bytes_written = report.written  # the last report comes once every byte is written
        if progress is not None:
            progress(report)

    def check(path: Path | str) -> None:
        copy.bytes_read = source.bytes_read - read
        if after_copy is not None:
            after_copy(str(path))
        verification = result.phases["verification"] = Phase()
        verified = verify_output(path, inspection, plan, steps, digests)
        result.checks, verification.seconds, verification.bytes_read = verified.checks, verified.seconds, \
            verified.bytes_read
        failed = [check for check in result.checks if check.passed is False]
        if failed:
            raise VerificationFailed("the copy failed verification, so it was removed: " +
                                     "; ".join(f"{check.name}: {check.detail}" for check in failed))

    try:
        copied = result.copy = copy_disk(source, output, result.format, plan.patches, replace=force,
                                         progress=copying, check=check, digests=digests)
    finally:  # the copy's time includes the final sync, which waits for the device after the verification
        verified = result.phases.get("verification")
        copy.seconds = time.monotonic() - started - (verified.seconds if verified is not None else 0)
    result.finish("repaired", EXIT_REPAIRED, f"{article.id}: repaired into {copied.path} "
                                             f"({describe_format(copied.format, copied.variant)}) and verified")


def describe_format(format_name: str, variant: str) -> str:
    return "raw" if format_name == "raw" else f"{format_name.upper()} {variant}"


def render_text(result: RepairResult, style: Style) -> str:
    """The human report of ``vhdfix repair``."""
    from vhdfix.report.style import human_size

    lines = [f"{style.heading('Disk')}     {result.input}"]
    inspection = result.inspection
    if inspection is not None and inspection.disk is not None:
        info = inspection.disk.info
        lines[0] += f"  ({describe_format(info.format, info.variant)}, {human_size(info.virtual_size)})"
    article = result.article
    if article is not None and inspection is not None and inspection.diagnosis is not None:
        best = inspection.diagnosis.best
        confidence = f" ({best.confidence} confidence)" if best is not None else ""
        lines.append(f"{style.heading('Article')}  {article.id}{confidence}: {article.title}")
        tied = [match.article.id for match in inspection.diagnosis.tied[1:]]
        if tied:
            lines.append(f"{style.heading('Tied')}     with {', '.join(tied)}: the disk cannot tell them apart "
                         f"(--screen-text can)")
    if result.steps is not None:
        planned = {step.id: step for step in result.plan.steps} if result.plan is not None else {}
        heading = "Plan (dry run: nothing is written)" if result.dry_run else "Plan"
        lines.append(style.heading(heading))
        for step in result.steps.apply:
            label = "" if step.documented else style.warn("NOT documented by Microsoft: ")
            lines.append(f"  [write]  {step.id}  {label}{step.text}")
            for patch in planned[step.id].patches if step.id in planned else []:
                lines.append(f"           at {patch.offset} ({len(patch.new)} bytes) {patch.old[:8].hex()} -> "
                             f"{patch.new[:8].hex()}  {patch.reason}")
        if not result.steps.apply:
            lines.append("  (no disk change)")
        if result.steps.manual:
            lines.append(style.heading("Manual steps") + " (not disk changes: do them yourself)")
            lines += [f"  - {step.text}" for step in result.steps.manual]
        if result.steps.not_requested:
            lines.append(style.heading("On request") + " (add the flag to write it)")
            lines += [f"  {step_flag(step.id)}  {'' if step.documented else 'NOT documented by Microsoft: '}"
                      f"{step.text}" for step in result.steps.not_requested]
    if result.copy is not None and result.copy.blob is not None:
        copy = result.copy
        lines.append(f"{style.heading('Output')}   {copy.path}  (page blob, "
                     f"{describe_format(copy.format, copy.variant)}, {human_size(copy.virtual_size)} virtual, "
                     f"{human_size(copy.bytes_written)} of pages put in {copy.seconds:.1f} s; "
                     f"found: {copy.blob['found']})")
    elif result.copy is not None:
        copy = result.copy
        lines.append(f"{style.heading('Output')}   {copy.path}  ({describe_format(copy.format, copy.variant)}, "
                     f"{human_size(copy.virtual_size)} virtual, {human_size(copy.allocated)} on disk, "
                     f"written in {copy.seconds:.1f} s)")
        if copy.stale_removed:
            lines.append(f"{style.warn('Removed')}  temporary files that killed earlier repairs left: "
                         f"{', '.join(str(path) for path in copy.stale_removed)}")
    if result.checks:
        lines.append(style.heading("Verification"))
        marks = {True: style.good("ok  "), False: style.bad("FAIL"), None: "--  "}
        lines += [f"  {marks[check.passed]}  {check.name}: {check.detail}" for check in result.checks]
    cleanup = result.destination.cleanup if result.destination is not None else "none"
    if cleanup != "none":
        undone = {"deleted": "the blob vhdfix created was deleted",
                  "cleared": "the pages vhdfix wrote into the blob were cleared"}
        mark = style.bad if cleanup.startswith("failed") else style.warn
        lines.append(f"{style.heading('Cleanup')}  {mark(undone.get(cleanup, cleanup))}")
    verdict = style.good if result.exit_code == EXIT_REPAIRED else style.bad if result.error else style.warn
    lines.append(f"{style.heading('Result')}   {verdict(result.message)} (exit {result.exit_code})")
    if result.next_steps:
        lines.append(style.heading("Next steps") + " (fill in the names: the URL does not tell them)")
        lines += [f"  {command}" for command in result.next_steps]
    return "\n".join(lines)
