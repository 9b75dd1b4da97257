"""Where two equally long byte strings differ, as runs, fast enough for a 12 MiB hive."""

from __future__ import annotations

_GRANULE = 64


def differing_runs(old: bytes | bytearray, new: bytes | bytearray) -> list[tuple[int, int]]:
    """``(start, end)`` of every maximal run of differing bytes."""
    if len(old) != len(new):
        raise ValueError("differing_runs compares equally long byte strings")
    runs: list[tuple[int, int]] = []
    old_view, new_view = memoryview(old), memoryview(new)
    for chunk in range(0, len(old), _GRANULE):
        stop = min(chunk + _GRANULE, len(old))
        if old_view[chunk:stop] == new_view[chunk:stop]:
            continue
        for index in range(chunk, stop):
            if old[index] == new[index]:
                continue
            if runs and runs[-1][1] == index:
                runs[-1] = (runs[-1][0], index + 1)
            else:
                runs.append((index, index + 1))
    return runs
