"""The writer's check of a repaired copy, as ``vhdfix repair`` calls it.

``vhdfix repair`` plans with :func:`~vhdfix.writer.planner.plan_actions` on
what its inspection read, lets the copy engine write the patches into a new
file (any format, flattened), and reopens that file for :func:`verify_repair`.
The plan carries its own expectations
(:class:`~vhdfix.writer.planner.RepairPlan`), so the verifier needs nothing
else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vhdfix.disk import Container
from vhdfix.errors import VerificationFailed
from vhdfix.plan import WritePlan
from vhdfix.writer.planner import RepairPlan
from vhdfix.writer.verify import verify_container

if TYPE_CHECKING:
    from vhdfix.repair import Check


def verify_repair(original: Container, repaired: Container, plan: WritePlan) -> Check:
    """The writer's checks of ``repaired`` (freshly opened) against ``plan``; ``original`` is not re-read
    (the repair command compares the untouched files itself)."""
    from vhdfix.repair import Check

    if not isinstance(plan, RepairPlan):
        return Check("writer", None, "the plan was not made by the surgical writer, so its checks do not apply")
    try:
        report = verify_container(repaired, plan.expectations)
    except VerificationFailed as exc:
        return Check("writer", False, exc.message)
    detail = (f"{report.written_blocks} records/INDX blocks with valid fixups, {report.index_entries} index entries "
              f"in {report.directories} directories consistent, {report.removed_records} records and "
              f"{report.freed_clusters} clusters free, {report.hives} hive(s) clean with {report.hive_keys} keys "
              f"and {report.hive_values} values walked")
    return Check("writer", True, detail, report.to_json())
