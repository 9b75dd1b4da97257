"""Proving a written copy: one place owns every check a repair makes before its output is put in place.

* :mod:`~vhdfix.verify.output`: :func:`verify_output` reopens the copy once and runs all checks;
* :mod:`~vhdfix.verify.rediagnosis`: the repaired article no longer matches;
* :mod:`~vhdfix.verify.blocks`: outside the plan's patches, every byte of the copy is the input's (block digests
  recorded during the copy, against the copy read back once);
* :mod:`~vhdfix.verify.files`: in the directories the plan touched, only the planned files differ;
* :mod:`~vhdfix.verify.structures`: the writer's invariants (fixups, indexes, bitmaps, committed hives); also
  :func:`verify_structures` for a copy patched in place.
"""

from vhdfix.verify.check import Check
from vhdfix.verify.output import verify_output
from vhdfix.verify.structures import VerificationReport, check_structures, verify_structures

__all__ = ["Check", "VerificationReport", "check_structures", "verify_output", "verify_structures"]
