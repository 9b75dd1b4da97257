"""A page blob's allocation map: the ranges Get Page Ranges lists; every other byte reads as zero.

The map is asked for window by window, as reads reach them, so a large, fragmented
disk costs one listing per window read rather than one listing of the whole blob.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Range = tuple[int, int]  # (offset, length)
WINDOW = 1 << 30  # bytes of the blob listed per Get Page Ranges call; a multiple of the 512-byte page


class PageMap:
    """The page ranges of a blob of ``size`` bytes, listed by ``list_ranges(offset, length)`` on demand."""

    def __init__(self, size: int, list_ranges: Callable[[int, int], list[Range]]) -> None:
        self.size = size
        self._list_ranges = list_ranges
        self._windows: dict[int, list[Range]] = {}

    def _window(self, index: int) -> list[Range]:
        if index not in self._windows:
            start = index * WINDOW
            end = min(start + WINDOW, self.size)
            clipped = []
            for offset, length in sorted(self._list_ranges(start, end - start)):
                low, high = max(offset, start), min(offset + length, end)
                if high > low:
                    clipped.append((low, high - low))
            self._windows[index] = clipped
        return self._windows[index]

    def ranges(self, start: int, end: int) -> Iterator[Range]:
        """The sorted page ranges inside ``[start, end)``, neighbours across windows merged."""
        end = min(end, self.size)
        pending: Range | None = None
        for index in range(start // WINDOW, (end - 1) // WINDOW + 1) if end > start else ():
            for offset, length in self._window(index):
                low, high = max(offset, start), min(offset + length, end)
                if high <= low:
                    continue
                if pending is not None and low <= pending[0] + pending[1]:
                    pending = (pending[0], max(high, pending[0] + pending[1]) - pending[0])
                    continue
                if pending is not None:
                    yield pending
                pending = (low, high - low)
        if pending is not None:
            yield pending
