"""Replay the regression corpus: each input that once crashed, hung or blew up now ends as recorded.

Disk cases go through the command line, as a repair job runs it: ``inspect``
exits with the documented code (3 and the recorded error code, or 0/1 with
the recorded warning) and ``repair --dry-run`` with one of its documented
codes; neither prints a traceback. Hive cases (real hives too large for a
sample disk) go through the registry layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.corpus import UNSET, Case, load_cases
from tests.fuzz.targets import run_hive

CASES = load_cases()
REPAIR_EXIT_CODES = {0, 1, 3, 4}  # planned, nothing to repair, unreadable input, refused as unsafe


def _vhdfix(*args: str | Path) -> tuple[int, dict[str, object], str]:
    done = subprocess.run([sys.executable, "-m", "vhdfix", *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus_case(case: Case, tmp_path: Path) -> None:
    assert case.expect != UNSET, f"{case.id}: fix the defect ({case.found[:200]}) and record its outcome"
    main = case.unpack(tmp_path)
    if case.target == "hive":
        error = run_hive(main)
        assert (error.code if error is not None else None) == case.expect
        return
    code, payload, stderr = _vhdfix("inspect", "--json", main)
    if case.expect is None:
        assert code in (0, 1), payload
        assert case.warning is None or any(case.warning in warning for warning in payload["warnings"])
    else:
        assert code == 3, payload
        assert payload["error"]["code"] == case.expect
        assert f"[{case.expect}]" in stderr
    code, payload, _ = _vhdfix("repair", "--dry-run", "--json", "--output", tmp_path / f"out-{main.name}", main)
    assert code in REPAIR_EXIT_CODES, payload
    if case.expect is not None:
        assert code == 3 and payload["error"]["code"] == case.expect  # type: ignore[index]
