"""Prove a written copy: reopen it once, from scratch, and run every check on what that one reading found."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from vhdfix.diagnosis import RemedyStep
from vhdfix.errors import VhdfixError
from vhdfix.inspection import Inspection, inspect
from vhdfix.plan import WritePlan
from vhdfix.verify.check import Check
from vhdfix.verify.files import files_check
from vhdfix.verify.rediagnosis import diagnosis_check
from vhdfix.verify.structures import structures_check
from vhdfix.writer.context import context_of


def verify_output(path: str | os.PathLike[str], before: Inspection, plan: WritePlan,
                  steps: Sequence[RemedyStep]) -> list[Check]:
    """Every check of the copy at ``path`` (written, not yet in place) against the input as ``before`` read it
    and the ``plan`` written from ``steps``:

    * ``reopen``: the copy opens as a disk image;
    * ``diagnosis``: diagnosed afresh, the repaired article no longer matches;
    * ``untouched-files``: every file the steps do not touch is byte-identical to the input's;
    * ``writer``: the structures the plan wrote are consistent (:mod:`vhdfix.verify.structures`).

    The copy is opened once, and its Windows volume and hives are found once, by a new inspection.
    """
    assert before.windows is not None, "a repair plans only on a successful inspection"
    with inspect(path, keep_open=True) as after:
        if after.disk is None:
            error = after.error
            assert error is not None
            return [Check("reopen", False, f"the copy does not open: [{error.code}] {error.message}")]
        info = after.disk.info
        checks = [Check("reopen", True, f"opens as {info.format.upper()} {info.variant}, {info.virtual_size} bytes",
                        {"format": info.format, "variant": info.variant}),
                  diagnosis_check(before, after, steps)]
        if after.error is not None or after.windows is None:
            failed = f"the copy could not be inspected: [{after.error.code}] {after.error.message}" \
                if after.error is not None else "the copy has no Windows volume"
            return [*checks, Check("untouched-files", False, failed), Check("writer", False, failed)]
        windows = after.windows
        runs: list[tuple[str, Callable[[], Check]]] = [
            ("untouched-files", lambda: files_check(before.windows.ntfs, windows.ntfs, steps)),
            ("writer", lambda: structures_check(context_of(after.disk, windows, after.hives), plan)),
        ]
        for name, run in runs:
            try:
                checks.append(run())
            except VhdfixError as exc:
                checks.append(Check(name, False, f"[{exc.code}] {exc.message}"))
    return checks
