"""Crafted evidence files: the line cut and the evidence patterns keep log scanning linear."""

from __future__ import annotations

import random
import re
import time

import pytest

from vhdfix.evidence.collect import ERROR_LINE, STATE_INI_LINE
from vhdfix.evidence.locations import DECISIVE_PATTERNS, MAX_LOG_BYTES
from vhdfix.evidence.text import MAX_LINE_CHARS, text_lines

# The patterns as first written: "A.*B", which rescans the rest of the line from every A.
QUADRATIC = {
    "sysprep-generalize-validate": r"Error in validating actions from .*Generalize\.xml",
    "setup-fatal": r"\[setup\.exe\].*(fatal|failed)|Setup encountered a fatal error",
    "specialize-failed": r"specialize.*(fail|error)|\[Specialize\].*error",
    "oobe-failed": r"\[(windeploy\.exe|msoobe\.exe|oobeldr\.exe)\].*(fail|error)",
}
WORDS = ["specialize", "[Specialize]", "error", "fail", "[setup.exe]", "fatal", "failed", "x ",
         "Setup encountered a fatal error", "Error in validating actions from ", "Generalize.xml", "[windeploy.exe]",
         "[msoobe.exe]", "[oobeldr.exe]", "ERROR", "SPECIALIZE", "\t"]


def test_lines_are_cut() -> None:
    lines = text_lines(b"a" * (3 * MAX_LINE_CHARS) + b"\r\nshort\r\n")
    assert [len(line) for line in lines] == [MAX_LINE_CHARS, 5]


@pytest.mark.parametrize("name", sorted(QUADRATIC))
def test_linear_patterns_match_what_the_originals_matched(name: str) -> None:
    rng = random.Random(name)
    original, linear = re.compile(QUADRATIC[name], re.I), re.compile(DECISIVE_PATTERNS[name], re.I)
    for _ in range(5000):
        line = "".join(rng.choice(WORDS) for _ in range(rng.randrange(8)))
        assert bool(original.search(line)) == bool(linear.search(line)), line


@pytest.mark.parametrize("unit", ["specialize ", "[setup.exe] ", "Error in validating actions from ",
                                  "[windeploy.exe] ", ", ", "\t"])
def test_a_log_of_worst_case_lines_is_scanned_in_linear_time(unit: str) -> None:
    line = (unit * MAX_LINE_CHARS)[:MAX_LINE_CHARS - 1]
    lines = text_lines(((line + "\n") * (MAX_LOG_BYTES // MAX_LINE_CHARS // 4)).encode())  # 1 MiB
    patterns = [re.compile(rx, re.I) for rx in DECISIVE_PATTERNS.values()] + [ERROR_LINE]
    started = time.process_time()
    for text in lines:
        for pattern in patterns:
            pattern.search(text)
    assert time.process_time() - started < 2  # the "A.*B" forms took over 15 s


def test_state_ini_pattern_does_not_backtrack_across_lines() -> None:
    started = time.process_time()
    assert STATE_INI_LINE.search("\n" * (256 * 1024)) is None
    assert time.process_time() - started < 1
    found = STATE_INI_LINE.search("[State]\n  ImageState = \"IMAGE_STATE_COMPLETE\"  \n")
    assert found is not None and found.group(1) == "IMAGE_STATE_COMPLETE"
