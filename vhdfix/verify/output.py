"""Prove a written copy: reopen it once, from scratch, and run every check on what that one reading found."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vhdfix.copy.digests import BlockDigests
from vhdfix.diagnosis import RemedyStep
from vhdfix.disk import open_disk
from vhdfix.errors import VhdfixError
from vhdfix.inspection import Inspection, inspect
from vhdfix.plan import WritePlan
from vhdfix.verify.blocks import blocks_check
from vhdfix.verify.check import Check
from vhdfix.verify.files import files_check
from vhdfix.verify.rediagnosis import diagnosis_check
from vhdfix.verify.structures import structures_check
from vhdfix.writer.context import context_of


@dataclass
class Verification:
    """The checks of one copy, the seconds they took, and the bytes of the copy they read."""

    checks: list[Check]
    seconds: float
    bytes_read: int


def verify_output(path: str | os.PathLike[str], before: Inspection, plan: WritePlan,
                  steps: Sequence[RemedyStep], digests: BlockDigests) -> Verification:
    """Every check of the copy at ``path`` (written, not yet in place) against the input as ``before`` read it,
    the ``plan`` written from ``steps``, and the input's block ``digests`` the copy recorded:

    * ``reopen``: the copy opens as a disk image, without a warning from its reader;
    * ``diagnosis``: diagnosed afresh, the repaired article no longer matches;
    * ``untouched-blocks``: outside the plan's patches, every byte of the copy's virtual disk is the input's;
    * ``untouched-files``: in the directories the steps touch, only the planned files differ;
    * ``writer``: the structures the plan wrote are consistent (:mod:`vhdfix.verify.structures`).

    The copy is opened once, and its Windows volume and hives are found once, by a new inspection; its data is
    read once, by ``untouched-blocks``. The input is not read again.
    """
    started = time.monotonic()
    assert before.windows is not None, "a repair plans only on a successful inspection"
    with inspect(path, keep_open=True) as after:
        checks = _checks(path, after, before, plan, steps, digests)
        read = after.disk.bytes_read if after.disk is not None else 0
    return Verification(checks, time.monotonic() - started, read)


def _checks(path: str | os.PathLike[str], after: Inspection, before: Inspection, plan: WritePlan,
            steps: Sequence[RemedyStep], digests: BlockDigests) -> list[Check]:
    assert before.windows is not None
    if after.disk is None:
        error = after.error
        assert error is not None
        return [Check("reopen", False, f"the copy does not open: [{error.code}] {error.message}")]
    info = after.disk.info
    opened = f"opens as {info.format.upper()} {info.variant}, {info.virtual_size} bytes"
    # the copy's container is vhdfix's own, written whole: anything its reader had to work around is damage
    warnings = after.disk.warnings
    reopen = Check("reopen", not warnings, f"{opened}, but: {'; '.join(warnings)}" if warnings else opened,
                   {"format": info.format, "variant": info.variant, "warnings": warnings})
    checks = [reopen, diagnosis_check(before, after, steps)]
    disk = after.disk
    if after.error is None:
        checks.append(_run("untouched-blocks", lambda: blocks_check(disk, digests)))
    else:  # a failed inspection closed the copy: reopen it, to say which blocks differ
        checks.append(_run("untouched-blocks", lambda: _reopened_blocks_check(path, digests)))
    if after.error is not None or after.windows is None:
        failed = f"the copy could not be inspected: [{after.error.code}] {after.error.message}" \
            if after.error is not None else "the copy has no Windows volume"
        return [*checks, Check("untouched-files", False, failed), Check("writer", False, failed)]
    windows, ntfs = after.windows, before.windows.ntfs
    runs: list[tuple[str, Callable[[], Check]]] = [
        ("untouched-files", lambda: files_check(ntfs, windows.ntfs, steps)),
        ("writer", lambda: structures_check(context_of(disk, windows, after.hives, after.bcd), plan)),
    ]
    checks += [_run(name, run) for name, run in runs]
    return checks


def _reopened_blocks_check(path: str | os.PathLike[str], digests: BlockDigests) -> Check:
    disk = open_disk(path)
    try:
        return blocks_check(disk, digests)
    finally:
        disk.close()


def _run(name: str, run: Callable[[], Check]) -> Check:
    try:
        return run()
    except VhdfixError as exc:
        return Check(name, False, f"[{exc.code}] {exc.message}")
