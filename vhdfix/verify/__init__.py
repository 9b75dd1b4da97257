"""Proving a written copy: one place owns every check a repair makes before its output is put in place.

* :mod:`~vhdfix.verify.output`: :func:`verify_output` reopens the copy once and runs all checks;
* :mod:`~vhdfix.verify.rediagnosis`: the repaired article no longer matches;
* :mod:`~vhdfix.verify.files`: every untouched file is byte-identical to the input's;
* :mod:`~vhdfix.verify.structures`: the writer's invariants (fixups, indexes, bitmaps, committed hives); also
  :func:`verify_structures` for a copy patched in place.
"""

from vhdfix.verify.check import Check
from vhdfix.verify.output import verify_output
from vhdfix.verify.structures import VerificationReport, check_structures, verify_structures

__all__ = ["Check", "VerificationReport", "check_structures", "verify_output", "verify_structures"]
