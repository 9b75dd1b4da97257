"""Work handed to background threads in order, with a bound on what waits: the copy overlaps its reading,
hashing and writing (the C code doing each releases the GIL), and memory stays constant."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

IN_FLIGHT = 8  # calls handed over and not yet done: with 1 MiB pieces, at most 8 MiB held


class Background:
    """Calls run on ``workers`` threads (one: in the order given); :meth:`submit` waits while :data:`IN_FLIGHT` are
    pending. Each result is handed to ``done`` in the order given; the first exception is raised by the next call
    here. With no workers, each call runs at once in :meth:`submit`: for work so short that handing it to a thread
    costs more than it saves."""

    def __init__(self, done: Callable[[object], None] = lambda result: None, workers: int = 1) -> None:
        self._done = done
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="vhdfix-background") if workers else None
        self._pending: deque[Future[object]] = deque()

    def submit(self, call: Callable[..., object], *args: object) -> None:
        if self._pool is None:
            self._done(call(*args))
            return
        while len(self._pending) >= IN_FLIGHT:
            self._done(self._pending.popleft().result())
        self._pending.append(self._pool.submit(call, *args))

    def drain(self) -> None:
        """Wait for every call."""
        while self._pending:
            self._done(self._pending.popleft().result())

    def close(self) -> None:
        """Stop the thread; calls not started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
