"""A time budget per disk: crafted structures must not keep vhdfix busy for ever.

Two mechanisms share one deadline:

* **Cooperative checks.** :func:`check_time_budget` is called where vhdfix
  loops or reads (every read of an image file goes through it), so a loop over
  a crafted chain ends with :class:`TimeBudgetExceeded` wherever it runs.
* **An interval timer** (POSIX, main thread only). Library code that loops in
  memory without reading the image (regipy on a hive, dissect over cached
  structures) never reaches a cooperative check. ``signal.setitimer`` delivers
  ``SIGALRM`` at the deadline and then every :data:`REPEAT_SECONDS`, and the
  handler raises :class:`TimeBudgetExceeded` in whatever Python code is
  running. Repeating matters: a library that swallows the first exception in
  an ``except Exception`` gets the next one.

Where the timer is unavailable (Windows, a worker thread, or a caller that
already uses ``SIGALRM``/``ITIMER_REAL``) only the cooperative checks apply:
the budget still ends every loop that reads the image, but a library stuck in
a purely in-memory loop is not interrupted.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from vhdfix.errors import TimeBudgetExceeded

DEFAULT_TIME_BUDGET = 30.0  # seconds per disk; a healthy 127 GiB disk inspects in well under a second
REPEAT_SECONDS = 0.05


class TimeBudget:
    """A deadline on the monotonic clock, for the work described by ``what``."""

    def __init__(self, seconds: float, what: str) -> None:
        if seconds <= 0:
            raise ValueError(f"a time budget must be positive, not {seconds}")
        self.seconds = seconds
        self.what = what
        self.deadline = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def error(self) -> TimeBudgetExceeded:
        return TimeBudgetExceeded(f"{self.what}: not done within the time budget of {self.seconds:g} s; "
                                  "the disk holds structures that take too long to read (crafted or damaged)")

    def check(self) -> None:
        if self.expired():
            raise self.error()


_active: TimeBudget | None = None


def check_time_budget() -> None:
    """Raise :class:`TimeBudgetExceeded` if the active budget (if any) has run out."""
    budget = _active
    if budget is not None and budget.expired():
        raise budget.error()


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    check_time_budget()


def _timer_available() -> bool:
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


@contextmanager
def time_budget(seconds: float | None, what: str) -> Iterator[TimeBudget | None]:
    """Run the body under a budget of ``seconds`` (None: no budget); see the module docstring.

    Inside an active budget the earlier deadline stays in force.
    """
    global _active
    if seconds is None or _active is not None:
        yield _active
        return
    budget = TimeBudget(seconds, what)
    timer = _timer_available()
    if timer:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    _active = budget
    try:
        yield budget
    finally:
        try:
            _active = None  # from here on the handler does nothing, even if the signal is already pending
        finally:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
