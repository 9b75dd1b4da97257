"""Where on the volume a part of a non-resident stream lies: its runs, told ahead to a disk that reads by URL.

A stream's data runs (lcn, clusters) place it on the volume; ``None`` is a sparse run,
which holds nothing to read. The ranges go to :meth:`ReadOnlyStream.will_read`
before the stream is read, so that a disk in Azure Storage fetches them side by side
instead of one run after another.
"""

from __future__ import annotations

from collections.abc import Iterable

HINT_BYTES = 16 * 1024 * 1024  # at most this much of a stream is hinted: the block cache's half

Range = tuple[int, int]


def stream_ranges(runs: Iterable[tuple[int | None, int]], cluster_size: int, spans: Iterable[Range]) -> list[Range]:
    """The volume byte ranges holding the stream's bytes in ``spans`` (stream offsets, lengths), at most
    :data:`HINT_BYTES` in all; one pass over the runs."""
    pending = sorted(spans)
    found: list[Range] = []
    budget, index, position = HINT_BYTES, 0, 0
    for lcn, clusters in runs:
        if index >= len(pending) or budget <= 0:
            break
        run_start, run_end = position, position + clusters * cluster_size
        position = run_end
        while index < len(pending):
            start, length = pending[index]
            if start >= run_end:
                break
            low, high = max(start, run_start), min(start + length, run_end)
            if high > low and lcn is not None and budget > 0:
                take = min(high - low, budget)
                found.append((lcn * cluster_size + low - run_start, take))
                budget -= take
            if start + length > run_end:
                break  # the span goes on in the next run
            index += 1
    return found
