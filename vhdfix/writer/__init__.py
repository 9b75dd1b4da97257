"""The surgical writer: plan a repair as byte patches and write them into a copy.

No Windows, no mount, no root: vhdfix removes files from NTFS and changes
registry values in place, changing as few bytes as possible and refusing
every case it cannot do exactly (``../shared/design/write-path.md``).

Python API::

    from vhdfix.writer import open_context, plan_actions, apply_patches
    from vhdfix.verify import verify_structures

    with open_context("input.vhd") as context:           # read-only
        planned = plan_actions(context, article.remedy)   # RefusedUnsafe if any gate fails
    print(planned.to_json())                              # the --dry-run / audit view
    # either the copy engine writes a new file with planned.patches spliced in, or, in place:
    apply_patches("output.vhd", planned.patches, original="input.vhd")   # output.vhd: a copy of the input
    verify_structures("output.vhd", planned.expectations) # VerificationFailed: discard output.vhd

* :func:`open_context` opens the input read-only and finds its Windows volume
  (a :class:`WriteContext`; hives are loaded and recovered on demand).
* :func:`plan_actions` turns remedy steps (their typed actions,
  :mod:`vhdfix.diagnosis.actions`) into a :class:`RepairPlan`, which *is* a
  :class:`vhdfix.plan.WritePlan` (patches on virtual-disk offsets, one
  :class:`~vhdfix.plan.PlanStep` per remedy step) and also carries
  ``.notes`` (per step id: a file already absent, a value already set, a
  manual step, a hive's KTM flag) and ``.expectations`` (what the verifier
  checks). Option: ``now`` (the hive commit time).
* :func:`apply_patches` writes patches into an existing copy through its own
  container format (raw, fixed/dynamic VHD, VHDX), after checking every
  patch's old bytes and that it lands in stored container space.
* A repair plans on what its inspection read: :func:`context_of` (the open
  disk, its Windows volume and hives).

Proving the written copy (the plan's ``expectations`` and every other check)
is :mod:`vhdfix.verify`'s job.

Every refusal is a :class:`~vhdfix.errors.RefusedUnsafe` subclass with its own
code, raised before anything is written. Modules: gates (``gates``), NTFS file
removal (``ntfs_delete``; ``index_edit`` for ``$I30``, ``$ObjId:$O`` and ``$Reparse:$R``, found by
``directory_index`` and ``side_indexes``; ``volume_view``), registry
edits (``hive_edit``, ``hive_plan``, over ``vhdfix.registry.key_paths``), container patching
(``container_patch``), and the planner.
"""

from vhdfix.writer.container_patch import apply_patches
from vhdfix.writer.context import WriteContext, context_for, context_of, open_context
from vhdfix.writer.planner import Expectations, RepairPlan, plan_actions

__all__ = [
    "Expectations",
    "RepairPlan",
    "WriteContext",
    "apply_patches",
    "context_for",
    "context_of",
    "open_context",
    "plan_actions",
]
