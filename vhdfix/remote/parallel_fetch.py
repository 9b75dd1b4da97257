"""Independent ranges of a blob fetched side by side, on a small pool of threads with bounded waits.

The threads only wait on the network: every state change (cache, counts, the sticky
failure) stays with the caller, which gets the results in the order it asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from vhdfix.errors import RemoteUnreachable, VhdfixError

Range = tuple[int, int]  # (offset, length)
Fetch = Callable[[int, int], bytes]


class ParallelFetch:
    """Runs ``fetch(offset, length)`` for many spans, ``workers`` at once; no wait lasts over ``wait_seconds``."""

    def __init__(self, workers: int, wait_seconds: float, blob: str) -> None:
        self.workers = workers
        self.wait_seconds = wait_seconds
        self._blob = blob
        self._pool: ThreadPoolExecutor | None = None

    def map(self, fetch: Fetch, spans: Sequence[Range]) -> list[bytes]:
        """``fetch`` of every span, in the order of ``spans``. One span runs in the caller's thread.

        On the first failure no further span starts, the ones under way are waited for (each within its bound), and
        the failure is raised: no thread is left running on the caller's behalf.
        """
        if len(spans) <= 1:
            return [fetch(offset, length) for offset, length in spans]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vhdfix-fetch")
        results: list[bytes | None] = [None] * len(spans)
        running: dict[Future[bytes], int] = {}
        waiting = list(range(len(spans)))[::-1]
        failure: BaseException | None = None
        while running or (waiting and failure is None):
            while waiting and failure is None and len(running) < self.workers:
                index = waiting.pop()
                running[self._pool.submit(fetch, *spans[index])] = index
            done, _ = wait(running, timeout=self.wait_seconds, return_when=FIRST_COMPLETED)
            if not done:
                failure = failure or RemoteUnreachable(f"{self._blob}: no answer to {len(running)} ranged reads "
                                                       f"within {self.wait_seconds:g} s")
                break  # the stuck threads end with their own timeouts; nothing of theirs is used
            for future in done:
                index = running.pop(future)
                error = future.exception()
                if error is None:
                    results[index] = future.result()
                elif failure is None or (not isinstance(failure, VhdfixError) and isinstance(error, VhdfixError)):
                    failure = error
        if failure is not None:
            raise failure
        return [result for result in results if result is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
