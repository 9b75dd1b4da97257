"""The repair's ``diagnosis`` check: the copy, diagnosed afresh, no longer shows the repaired article."""

from __future__ import annotations

from collections.abc import Sequence

from vhdfix.diagnosis import RemedyStep
from vhdfix.inspection import Inspection
from vhdfix.verify.check import Check


def diagnosis_check(before: Inspection, after: Inspection, steps: Sequence[RemedyStep]) -> Check:
    """The repaired article no longer matches at all.

    When only extended steps were written, the article may still match: its rules read evidence that those
    not-documented workarounds, or documented preparations such as enabling a memory dump, do not change, so the
    re-diagnosis is reported but does not fail the repair.
    """
    article = before.article
    best = before.diagnosis.best if before.diagnosis is not None else None
    if article is None or best is None:
        return Check("diagnosis", None, "no article was repaired")
    if after.error is not None:
        return Check("diagnosis", False, f"the copy could not be inspected: [{after.error.code}] "
                                         f"{after.error.message}")
    matches = after.diagnosis.matches if after.diagnosis is not None else []
    remaining = next((match for match in matches if match.article.id == article.id), None)
    after_best = after.article.id if after.article is not None else None
    data: dict[str, object] = {"article": article.id, "before": best.confidence,
                               "after": remaining.confidence if remaining else None, "best_after": after_best,
                               "state_after": after.diagnosis.state if after.diagnosis is not None else "unknown"}
    if steps and all(step.on_request for step in steps):
        return Check("diagnosis", None, f"only on-request preparations were written, which do not address "
                                        f"{article.id}'s cause: the diagnosis is not expected to change", data)
    if remaining is None:
        return Check("diagnosis", True, f"{article.id} no longer matches", data)
    if not any(step.documented and not step.on_request for step in steps):
        return Check("diagnosis", None, f"{article.id} still matches with {remaining.confidence} confidence (only "
                                        "on-request steps were written; vhdfix does not count on "
                                        "them to clear this diagnosis)", data)
    return Check("diagnosis", False, f"{article.id} still matches with {remaining.confidence} confidence: "
                                     f"{'; '.join(remaining.reasons)}", data)
