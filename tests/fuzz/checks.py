"""Run one input and judge it: a result or one of vhdfix's error codes, within 2 s of CPU and 200 MB.

Memory is the peak resident set of the process while the input runs. On Linux
the kernel's high-water mark is reset before each input (``/proc/self/clear_refs``,
value 5) and read after it, so the figure covers native allocations too;
elsewhere ``tracemalloc`` measures the Python heap.
"""

from __future__ import annotations

import os
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.model import FuzzInput, Seed
from vhdfix.errors import VhdfixError

MAX_CPU_SECONDS = 2.0
MAX_PEAK_BYTES = 200 * 1024 * 1024
FUZZ_TIME_BUDGET = 10.0  # well above MAX_CPU_SECONDS: an input that needs the budget is already a finding
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Outcome:
    target: str
    seed: str
    code: str | None  # None: inspected (or parsed) without an error
    cpu: float
    peak: int  # bytes the input added to the resident set at its peak
    problem: str | None = None  # set for a finding
    notes: list[str] = field(default_factory=list)

    @property
    def finding(self) -> bool:
        return self.problem is not None


def _status_kib(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _rss_peak_available() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Yields a list that holds, after the block, the peak memory (bytes) the block added."""
    result = [0]
    if _rss_peak_available():
        base = _status_kib("VmRSS")
        try:
            yield result
        finally:
            result[0] = max(0, _status_kib("VmHWM") - base) * 1024
        return
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield result
    finally:
        result[0] = max(0, tracemalloc.get_traced_memory()[1] - base)
        if not tracing:
            tracemalloc.stop()


class Workspace:
    """The seed's files written once into ``root``; an input is applied to them and then reverted."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[str] = set()

    def _folder(self, seed: Seed) -> Path:
        return self.root / seed.name.replace("/", "_")

    @contextmanager
    def applied(self, seed: Seed, item: FuzzInput) -> Iterator[Path]:
        folder = self._folder(seed)
        if seed.name not in self._written:
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in seed.files.items():
                (folder / name).write_bytes(data)
            self._written.add(seed.name)
        saved: list[tuple[Path, int, bytes]] = []
        truncated: list[tuple[Path, int]] = []
        try:
            for patch in item.patches:
                path = folder / patch.file
                with open(path, "r+b") as handle:
                    handle.seek(patch.offset)
                    saved.append((path, patch.offset, handle.read(len(patch.data))))
                    handle.seek(patch.offset)
                    handle.write(patch.data)
            for name, length in item.truncate.items():
                os.truncate(folder / name, length)
                truncated.append((folder / name, length))
            yield folder / seed.main
        finally:
            for path, length in truncated:
                with open(path, "r+b") as handle:
                    handle.seek(length)
                    handle.write(seed.files[path.name][length:])
            for path, offset, old in reversed(saved):
                with open(path, "r+b") as handle:
                    handle.seek(offset)
                    handle.write(old)
            for path in {path for path, _, _ in saved}:
                os.truncate(path, len(seed.files[path.name]))  # a patch past the end grew the file


Runner = Callable[[Path], VhdfixError | None]  # the main file -> its error (None: none); raises on a defect


def judge(target: str, seed: Seed, item: FuzzInput, workspace: Workspace, run: Runner) -> Outcome:
    """Run ``item`` and measure it; any problem makes the outcome a finding."""
    with workspace.applied(seed, item) as path:
        started = time.process_time()
        error: VhdfixError | None = None
        problem: str | None = None
        with peak_memory() as peak:
            try:
                error = run(path)
            except Exception as exc:  # the finding is the exception itself
                problem = f"raised {type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc()[-2000:]
        cpu = time.process_time() - started
    code = error.code if error is not None else None
    if code == "internal-error":
        problem = f"internal-error: {error.message}"
    elif problem is None and cpu > MAX_CPU_SECONDS:
        problem = f"took {cpu:.2f} s of CPU"
    elif problem is None and peak[0] > MAX_PEAK_BYTES:
        problem = f"peak memory {peak[0] / 2**20:.0f} MiB"
    return Outcome(target, seed.name, code, cpu, peak[0], problem, item.notes)
