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


def stream_ranges(runs: Iterable[tuple[int | None, int]], cluster_size: int, start: int, length: int) -> list[Range]:
    """The volume byte ranges holding the stream's bytes ``[start, start + length)``, at most :data:`HINT_BYTES`."""
    length = min(length, HINT_BYTES)
    end = start + length
    found: list[Range] = []
    position = 0  # byte offset in the stream of the current run
    for lcn, clusters in runs:
        run_bytes = clusters * cluster_size
        low, high = max(start, position), min(end, position + run_bytes)
        if high > low and lcn is not None:
            found.append((lcn * cluster_size + low - position, high - low))
        position += run_bytes
        if position >= end:
            break
    return found
