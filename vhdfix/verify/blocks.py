"""The repair's ``untouched-blocks`` check: outside the plan's patches, the copy's virtual disk is the input's.

The copy recorded a digest of each 1 MiB block of the input as it read it
(:class:`~vhdfix.copy.digests.BlockDigests`). Here the output is read once,
through vhdfix's own reader for its format (so the container the copy wrote
is proved too): what its container stores (its allocated ranges; every other
byte reads as zeros by the format) is digested the same way, and the two
tables are compared block by block. The input is not read again.
"""

from __future__ import annotations

from vhdfix.copy.buffers import keep_freed_buffers
from vhdfix.copy.digests import BLOCK, BlockDigests
from vhdfix.disk.container import Container, block_pieces, merge_ranges
from vhdfix.verify.check import Check

MAX_PROBLEMS = 20


def blocks_check(output: Container, digests: BlockDigests) -> Check:
    """Every byte of ``output``'s virtual disk outside the patches equals the input's that ``digests`` recorded;
    bytes past the input's end (a format's rounding up) are zeros."""
    size = digests.virtual_size
    if output.virtual_size < size:
        return Check("untouched-blocks", False, f"the copy's virtual disk has {output.virtual_size} bytes, fewer "
                                                f"than the input's {size}")
    keep_freed_buffers()
    read_before = output.bytes_read
    observed = BlockDigests.like(digests)
    past_end: list[str] = []
    try:
        for _, _, offset, length in block_pieces(merge_ranges(output.allocated_ranges()), BLOCK):
            data = output.read(offset, length)
            inside = max(0, min(length, size - offset))
            if inside:
                observed.add(offset, data if inside == length else data[:inside])
            if inside < length and data[inside:].strip(b"\0"):
                past_end.append(f"virtual bytes {offset + inside}-{offset + length - 1}, past the input's end, are "
                                "not zeros")
        observed.finish()
    finally:
        observed.close()
    problems = [f"virtual bytes {block * BLOCK}-{min(block * BLOCK + BLOCK, size) - 1} differ from the input's"
                for block in digests.differing(observed)] + past_end
    data: dict[str, object] = {"blocks_compared": digests.blocks, "block_size": BLOCK,
                               "bytes_read": output.bytes_read - read_before,
                               "patched_blocks": len(digests.masks), "problems": problems[:MAX_PROBLEMS],
                               "problem_count": len(problems)}
    if problems:
        return Check("untouched-blocks", False, f"{len(problems)} block(s) differ: {'; '.join(problems[:3])}", data)
    return Check("untouched-blocks", True, f"{digests.blocks} blocks of {BLOCK >> 20} MiB identical to the input "
                                           f"outside the plan's patches", data)
