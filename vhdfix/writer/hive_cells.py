"""Cells freed and allocated inside a hive's existing bins; the hive file never grows (regf spec, 'Cell').

A cell starts with an i32 size that includes the size field and is a
multiple of 8: negative when allocated, positive when free. Freeing a cell
makes its size positive, as Windows marks a free cell, and merges it with a
free cell just before or after it in the same bin (cells never span bins).
Allocating takes the smallest free cell that holds the request and splits
off the rest as a new free cell when at least 8 bytes remain. The new cell's
padding is zeroed. When no free cell is large enough the edit is refused
(:class:`HiveNoFreeSpace`): growing the hive means growing its file.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable

from vhdfix.errors import HiveNoFreeSpace
from vhdfix.registry.cells import Cells
from vhdfix.registry.regf_format import BASE_BLOCK_SIZE, HIVE_BIN_HEADER, HIVE_BIN_HEADER_SIZE

_SIZE = struct.Struct("<i")
_ALIGNMENT = 8

Write = Callable[[int, bytes, int, str], None]  # (file offset, bytes, step, reason)


def cell_size(data_length: int) -> int:
    """The size of a cell holding ``data_length`` bytes of data (size field included, 8-aligned)."""
    return (data_length + _SIZE.size + _ALIGNMENT - 1) & ~(_ALIGNMENT - 1)


class CellSpace:
    """The cells of one hive image (walked once; the caller has checked the bins with a strict reader)."""

    def __init__(self, image: bytearray, hive_bins_data_size: int, cells: Cells, write: Write) -> None:
        self._image = image
        self._cells = cells
        self._write = write
        self._starts: list[int] = []  # every cell, in order
        self._bin_of: dict[int, int] = {}  # cell -> start of its bin
        offset = 0
        while offset < hive_bins_data_size:
            size = HIVE_BIN_HEADER.parse(image, BASE_BLOCK_SIZE + offset).size
            cell = offset + HIVE_BIN_HEADER_SIZE
            while cell < offset + size:
                self._starts.append(cell)
                self._bin_of[cell] = offset
                cell += abs(self._size(cell))
            offset += size

    def _size(self, cell: int) -> int:
        return _SIZE.unpack_from(self._image, BASE_BLOCK_SIZE + cell)[0]

    def _set_size(self, cell: int, size: int, step: int, reason: str) -> None:
        self._write(BASE_BLOCK_SIZE + cell, _SIZE.pack(size), step, reason)

    def _neighbour(self, cell: int, delta: int) -> int | None:
        index = bisect.bisect_left(self._starts, cell) + delta
        if not 0 <= index < len(self._starts):
            return None
        other = self._starts[index]
        return other if self._bin_of[other] == self._bin_of[cell] else None

    def free(self, cell: int, step: int, reason: str) -> None:
        """Mark the allocated cell at ``cell`` free, merged with free neighbours in its bin."""
        size = -self._size(cell)
        assert size > 0, f"cell {cell:#x} is not allocated"
        self._cells.track_free(cell)
        following = self._neighbour(cell, 1)
        if following is not None and self._size(following) > 0:
            size += self._size(following)
            self._forget(following)
        previous = self._neighbour(cell, -1)
        if previous is not None and self._size(previous) > 0:
            self._set_size(previous, self._size(previous) + size, step, reason)
            self._forget(cell)
            return
        self._set_size(cell, size, step, reason)

    def _forget(self, cell: int) -> None:
        self._starts.remove(cell)
        del self._bin_of[cell]

    def allocate(self, data: bytes, step: int, reason: str, what: str) -> int:
        """A new cell holding ``data`` (zero-padded); its offset. HiveNoFreeSpace when no free cell holds it."""
        needed = cell_size(len(data))
        free = [(self._size(cell), cell) for cell in self._starts if self._size(cell) >= needed]
        if not free:
            largest = max((self._size(cell) for cell in self._starts), default=0)
            raise HiveNoFreeSpace(f"{what} needs a {needed}-byte cell and the largest free cell in the hive's bins "
                                  f"holds {max(largest, 0)} bytes; vhdfix does not grow a hive file")
        size, cell = min(free)
        rest = size - needed
        if rest >= _ALIGNMENT:
            split = cell + needed
            self._set_size(split, rest, step, reason)
            index = bisect.bisect_left(self._starts, cell) + 1
            self._starts.insert(index, split)
            self._bin_of[split] = self._bin_of[cell]
        else:
            needed = size
        self._write(BASE_BLOCK_SIZE + cell, _SIZE.pack(-needed) + data.ljust(needed - _SIZE.size, b"\0"), step,
                    reason)
        self._cells.track_allocated(cell, needed - _SIZE.size)
        return cell
