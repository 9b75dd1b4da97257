"""Progress of a copy: the callback interface, and the two renderings the command line offers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from vhdfix.report.style import human_size


@dataclass(frozen=True)
class CopyProgress:
    """Where a copy stands. ``done`` and ``total`` count the bytes of the source the copy reads:
    its allocated data, not its virtual size."""

    done: int
    total: int
    written: int  # bytes of data written to the output
    elapsed: float  # seconds
    finished: bool = False

    @property
    def rate(self) -> float:
        """Bytes read per second."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None before the rate is known."""
        if self.finished or self.done >= self.total:
            return 0.0
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    def to_json(self) -> dict[str, object]:
        eta = self.eta
        return {"event": "progress", "phase": "copy", "done": self.done, "total": self.total,
                "written": self.written, "elapsed": round(self.elapsed, 3), "rate": round(self.rate),
                "eta": None if eta is None else round(eta, 1), "finished": self.finished}


ProgressCallback = Callable[[CopyProgress], None]


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class Throttle:
    """Lets a report through at most once per ``interval`` seconds, and always the final one."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")

    def due(self, progress: CopyProgress) -> bool:
        now = time.monotonic()
        if progress.finished or now - self._last >= self.interval:
            self._last = now
            return True
        return False


class TerminalProgress:
    """A one-line bar on a terminal: bytes, percentage, rate and time left."""

    WIDTH = 24

    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        self.stream = stream
        self.throttle = Throttle(interval)

    def __call__(self, progress: CopyProgress) -> None:
        if not self.throttle.due(progress):
            return
        fraction = progress.done / progress.total if progress.total else 1.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = (f"\rcopying [{bar}] {fraction:6.1%}  {human_size(progress.done)} / {human_size(progress.total)}"
                f"  {human_size(int(progress.rate))}/s  ETA {_clock(progress.eta)}")
        self.stream.write(line + ("\n" if progress.finished else ""))
        self.stream.flush()


class JsonProgress:
    """One JSON object per line (``CopyProgress.to_json``), for repair jobs to parse."""

    def __init__(self, stream: TextIO, interval: float = 1.0) -> None:
        self.stream = stream
        self.throttle = Throttle(interval)

    def __call__(self, progress: CopyProgress) -> None:
        if self.throttle.due(progress):
            self.stream.write(json.dumps(progress.to_json()) + "\n")
            self.stream.flush()
