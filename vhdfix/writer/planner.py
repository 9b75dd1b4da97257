"""Turn an article's remedy steps into a :class:`~vhdfix.plan.WritePlan`, checking every gate first.

Actions (:mod:`vhdfix.diagnosis.actions`):

* :class:`DeleteFiles`: each path is removed (:mod:`vhdfix.writer.ntfs_delete`);
  a path that does not exist gives no patch and a note;
* :class:`SetValues`: values are changed in place, or created in free
  cells when the setting allows it (:mod:`vhdfix.writer.hive_plan`); a value
  that already holds its value gives a note;
* :class:`DeleteValues`: values are deleted; a missing one gives a note;
  all edits of one hive are committed together;
* :class:`DeleteBcdElements`: element keys are deleted from the disk's BCD
  (:mod:`vhdfix.writer.bcd_plan`), on NTFS or on the FAT32 ESP; a missing
  element gives a note;
* an action that does not write the disk (:class:`ManualAction`): nothing is
  written; the step is listed with a note.

Gates run before anything is planned: no VHDX log in the input's chain, the
volume (``$LogFile``, dirty flag, hibernation), then per file and per hive.
The plan itself does not depend on the container: the copy engine can splice
it into a new file of any format (flattening a differencing chain), and
:func:`~vhdfix.writer.container_patch.apply_patches` adds the in-place gates
(a single file, every touched block stored). All patches are planned into one in-memory view, so a structure that
two steps change (a directory, a bitmap byte) becomes one patch, attributed to
the first step that changed it, with the reasons of all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vhdfix.diagnosis.actions import BcdElement, DeleteBcdElements, DeleteFiles, DeleteValues, SetValues
from vhdfix.diagnosis.catalog import RemedyStep
from vhdfix.plan import PlanStep, WritePlan
from vhdfix.writer.bcd_plan import plan_bcd
from vhdfix.writer.context import WriteContext
from vhdfix.writer.gates import check_no_pending_log, check_volume
from vhdfix.writer.hive_plan import EditedHive, HiveOperation, ntfs_store, plan_hive
from vhdfix.writer.ntfs_delete import RemovedFile, remove_file
from vhdfix.writer.volume_view import VolumeView


@dataclass(frozen=True)
class Expectations:
    """What the written copy must show; :mod:`vhdfix.verify.structures` checks each item."""

    partition_offset: int = 0
    removed: tuple[RemovedFile, ...] = ()
    directories: tuple[int, ...] = ()  # record numbers of the directories whose index changed
    written_blocks: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()  # records/INDX blocks: label, ranges
    hives: tuple[EditedHive, ...] = ()


@dataclass
class RepairPlan(WritePlan):
    """A :class:`~vhdfix.plan.WritePlan` (the patches, per step) that also carries, per step id, notes on what
    needed no change, and what the verifier must find in the written copy."""

    expectations: Expectations = field(default_factory=Expectations)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"steps": [{**step.to_json(), "notes": self.notes.get(step.id, [])} for step in self.steps]}


def plan_actions(context: WriteContext, steps: Sequence[RemedyStep], *, now: datetime | None = None) -> RepairPlan:
    """Plan ``steps`` against the disk opened in ``context``; raise RefusedUnsafe (or another VhdfixError)
    when any of it cannot be written exactly. Nothing is written."""
    check_no_pending_log(context.disk)
    check_volume(context.state, context.ntfs.label)
    view = VolumeView(context.disk, context.partition.offset, context.ntfs)
    notes: dict[int, list[str]] = {}
    removed: list[RemovedFile] = []
    operations: dict[str, list[tuple[int, HiveOperation]]] = {}
    elements: list[tuple[int, BcdElement]] = []
    for index, step in enumerate(steps):
        action = step.action
        if isinstance(action, DeleteFiles):
            for path in action.paths:
                result = remove_file(view, context.ntfs, path, index)
                if result is None:
                    notes.setdefault(index, []).append(f"{path} does not exist; nothing to remove")
                else:
                    removed.append(result)
        elif isinstance(action, SetValues | DeleteValues):
            for item in action.values:
                operations.setdefault(item.hive, []).append((index, item))
        elif isinstance(action, DeleteBcdElements):
            elements.extend((index, element) for element in action.elements)
        elif action.writes_disk:
            raise TypeError(f"{step.id}: the planner does not know the {action.kind} action")
        else:
            notes.setdefault(index, []).append("a manual step: vhdfix writes nothing for it")
    hives: list[EditedHive] = []
    when = now or datetime.now(timezone.utc)
    for name, hive_operations in operations.items():
        reading = context.hive(name)
        edited, hive_notes = plan_hive(lambda path=reading.path: ntfs_store(view, context.ntfs, path), reading,
                                       hive_operations, when)
        for index, texts in hive_notes.items():
            notes.setdefault(index, []).extend(texts)
        if edited is not None:
            hives.append(edited)

    step_patches = view.patches()
    if elements:
        edited, bcd_notes, bcd_patches = plan_bcd(context.disk, context.bcd(), elements, when)
        for index, texts in bcd_notes.items():
            notes.setdefault(index, []).extend(texts)
        if edited is not None:
            hives.append(edited)
        step_patches += bcd_patches
    expectations = Expectations(context.partition.offset, tuple(removed),
                                tuple(sorted({item.directory for item in removed})),
                                tuple(view.written_blocks()), tuple(hives))
    plan = RepairPlan([PlanStep(step.id, step.text, step.documented, step.source,
                                [item.patch for item in step_patches if item.step == index])
                       for index, step in enumerate(steps)], expectations,
                      {steps[index].id: texts for index, texts in notes.items()})
    plan.patches  # noqa: B018 - refuses overlapping patches now rather than in a writer
    return plan
