"""A bounded cache of equal-sized, aligned blocks of a remote blob, least recently used out first."""

from __future__ import annotations

from collections import OrderedDict


class BlockCache:
    """At most ``capacity`` blocks, by block index."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._blocks: OrderedDict[int, bytes] = OrderedDict()

    def __contains__(self, index: int) -> bool:
        return index in self._blocks

    def get(self, index: int) -> bytes | None:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
        return block

    def put(self, index: int, block: bytes) -> None:
        self._blocks[index] = block
        self._blocks.move_to_end(index)
        while len(self._blocks) > self.capacity:
            self._blocks.popitem(last=False)

    def clear(self) -> None:
        self._blocks.clear()
