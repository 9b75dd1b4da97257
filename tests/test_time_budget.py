"""The per-disk time budget: cooperative checks everywhere, an interval timer where POSIX allows it, and no
handler that turns the budget's error into a warning."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from vhdfix.budget import check_time_budget, time_budget
from vhdfix.errors import CorruptVolume, TimeBudgetExceeded, foreign_errors
from vhdfix.evidence.model import EvidenceSet
from vhdfix.evidence.reader import VolumeReader
from vhdfix.inspection import inspect
from vhdfix.windows.hives import load_hive

SAMPLE = FIXTURES / "provisioning-agent.vhd"
needs_timer = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no interval timer on this OS")


def test_no_budget_no_check() -> None:
    check_time_budget()
    with time_budget(None, "nothing") as budget:
        assert budget is None
        check_time_budget()


def test_inspect_reports_the_budget_as_its_error() -> None:
    result = inspect(SAMPLE, budget_seconds=1e-9)
    assert result.error is not None and result.error.code == "time-budget-exceeded"
    assert result.exit_code == 3


def test_command_line_option() -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", "--json", "--time-budget", "1e-9",
                           str(SAMPLE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "time-budget-exceeded"


def test_a_generous_budget_changes_nothing() -> None:
    assert inspect(SAMPLE).to_json() == inspect(SAMPLE, budget_seconds=None).to_json()


@needs_timer
def test_the_timer_interrupts_a_loop_that_never_reads() -> None:
    started = time.monotonic()
    with pytest.raises(TimeBudgetExceeded), time_budget(0.1, "spinning"):
        while True:
            pass
    assert time.monotonic() - started < 2
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@needs_timer
def test_the_timer_fires_again_after_a_library_swallows_it() -> None:
    swallowed = 0
    with pytest.raises(TimeBudgetExceeded), time_budget(0.05, "swallowing"):
        while True:
            try:
                while True:
                    pass
            except Exception:  # what a library's catch-all does
                swallowed += 1
                if swallowed > 1:
                    raise
    assert swallowed == 2


@needs_timer
def test_a_callers_own_timer_is_left_alone() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        with pytest.raises(TimeBudgetExceeded), time_budget(0.01, "cooperative only"):
            time.sleep(0.05)
            check_time_budget()
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_outside_the_main_thread_the_checks_are_cooperative() -> None:
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            with time_budget(0.01, "in a thread"):
                time.sleep(0.05)
                check_time_budget()
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert isinstance(outcome[0], TimeBudgetExceeded)


def test_an_inner_budget_keeps_the_earlier_deadline() -> None:
    with time_budget(0.01, "outer"), time_budget(60, "inner") as inner:
        assert inner is not None and inner.what == "outer"
        with pytest.raises(TimeBudgetExceeded, match="outer"):
            time.sleep(0.05)  # the timer, where there is one, ends the sleep
            check_time_budget()


class _OutOfTime:
    """A volume whose every read finds the budget spent."""

    def read_file(self, *args: object, **kwargs: object) -> None:
        raise TimeBudgetExceeded("out of time")

    stat = list_dir = read_file


def test_hive_and_evidence_readers_do_not_turn_the_budget_into_a_warning() -> None:
    with pytest.raises(TimeBudgetExceeded):
        load_hive(_OutOfTime(), "SYSTEM")  # type: ignore[arg-type]
    reader = VolumeReader(_OutOfTime(), EvidenceSet())  # type: ignore[arg-type]
    for call in (lambda: reader.read("x", 1), lambda: reader.stat("x"), lambda: reader.list_dir("x")):
        with pytest.raises(TimeBudgetExceeded):
            call()


def test_library_calls_pass_the_budget_through() -> None:
    with pytest.raises(TimeBudgetExceeded), foreign_errors(CorruptVolume, "reading"):
        raise TimeBudgetExceeded("out of time")


def test_budget_module_has_no_timer_left_after_inspect(tmp_path: Path) -> None:
    inspect(SAMPLE, budget_seconds=5)
    if hasattr(signal, "setitimer"):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
