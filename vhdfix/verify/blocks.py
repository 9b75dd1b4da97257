"""The repair's ``untouched-blocks`` check: outside the plan's patches, the copy's virtual disk is the input's.

The copy recorded a digest of each 1 MiB block of the input as it read it
(:class:`~vhdfix.copy.digests.BlockDigests`). Here the output is read once,
through vhdfix's own reader for its format (so the container the copy wrote
is proved too), and each block that either side holds data in is digested
the same way and compared. Blocks neither side stores are zeros on both.
The input is not read again.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence

from vhdfix.copy.background import Background
from vhdfix.copy.buffers import keep_freed_buffers
from vhdfix.copy.digests import BLOCK, NO_DIGEST, BlockDigests, Span, block_digest
from vhdfix.disk.container import Container, Range
from vhdfix.verify.check import Check

MAX_PROBLEMS = 20
HASHING_THREADS = 2  # each block is hashed on its own, so two threads share the work


def _blocks_of(ranges: Iterable[Range]) -> Iterator[int]:
    for offset, length in ranges:
        yield from range(offset // BLOCK, -(-(offset + length) // BLOCK))


def _unique(blocks: Iterable[int]) -> Iterator[int]:
    last = -1
    for block in blocks:
        if block != last:
            yield block
            last = block


def _digest(block: int, start: int, data: bytes, size: int,
            mask: Sequence[Span]) -> tuple[int, int, int, bytes, bool]:
    """``(block, start, length, digest of the bytes inside the input's size, whether any byte past it is set)``."""
    inside = max(0, min(len(data), size - start))
    found = block_digest(data[:inside], mask) if inside else NO_DIGEST
    return block, start, len(data), found, bool(data[inside:].strip(b"\0"))


def blocks_check(output: Container, digests: BlockDigests) -> Check:
    """Every byte of ``output``'s virtual disk outside the patches equals the input's that ``digests`` recorded;
    bytes past the input's end (a format's rounding up) are zeros."""
    size = digests.virtual_size
    if output.virtual_size < size:
        return Check("untouched-blocks", False, f"the copy's virtual disk has {output.virtual_size} bytes, fewer "
                                                f"than the input's {size}")
    keep_freed_buffers()
    read_before = output.bytes_read
    compared, problems = 0, []

    def compare(outcome: object) -> None:
        block, start, length, found, tail = outcome  # type: ignore[misc]  # _digest's tuple
        if found != digests.expected(block):
            problems.append(f"virtual bytes {start}-{start + min(length, size - start) - 1} differ from the input's")
        elif tail:
            problems.append(f"virtual bytes {size}-{start + length - 1}, past the input's end, are not zeros")

    hashing = Background(compare, HASHING_THREADS)  # blocks are hashed while the next ones are read
    try:
        for block in _unique(heapq.merge(digests.with_data(), _blocks_of(output.allocated_ranges()))):
            start = block * BLOCK
            hashing.submit(_digest, block, start, output.read(start, BLOCK), size, digests.masks.get(block, ()))
            compared += 1
        hashing.drain()
    finally:
        hashing.close()
    data: dict[str, object] = {"blocks_compared": compared, "block_size": BLOCK,
                               "bytes_read": output.bytes_read - read_before,
                               "patched_blocks": len(digests.masks), "problems": problems[:MAX_PROBLEMS],
                               "problem_count": len(problems)}
    if problems:
        return Check("untouched-blocks", False, f"{len(problems)} block(s) differ: {'; '.join(problems[:3])}", data)
    return Check("untouched-blocks", True, f"{compared} blocks of {BLOCK >> 20} MiB identical to the input outside "
                                           f"the plan's patches", data)
