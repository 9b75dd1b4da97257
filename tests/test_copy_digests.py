"""The block digests a copy records agree with the digests verification records, however each disk stores them.

The copy sees a block in pieces (the input's allocated extents, with zero gaps
between them) and leaves the patched bytes out; verification sees the output's
own extents, which may cut the same bytes differently (a format stores more,
or zeros as holes). Both must give the same digest exactly when the bytes
outside the patches are the same, and "no digest" when they are all zeros.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from vhdfix.copy.digests import BLOCK, NO_DIGEST, BlockDigests, patch_masks
from vhdfix.plan import BytePatch

SIZE = 3 * BLOCK + 4096  # the last block is short


def disk_bytes(seed: int, allocated: list[tuple[int, int]]) -> bytearray:
    rng = random.Random(seed)
    data = bytearray(SIZE)
    for offset, length in allocated:
        data[offset:offset + length] = rng.randbytes(length)
    return data


def pieces_of(allocated: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The allocated extents cut at block boundaries, as the copy's scan reads them."""
    out = []
    for offset, length in allocated:
        end = offset + length
        while offset < end:
            stop = min(end, (offset // BLOCK + 1) * BLOCK)
            out.append((offset, stop - offset))
            offset = stop
    return out


def recorded(data: bytes, allocated: list[tuple[int, int]], patches: list[BytePatch]) -> BlockDigests:
    digests = BlockDigests(SIZE, patches)
    for offset, length in pieces_of(allocated):
        digests.add(offset, data[offset:offset + length])
    digests.finish()
    return digests


def read_back(data: bytes, digests: BlockDigests) -> BlockDigests:
    """The table verification records from an output that stores every block whole."""
    observed = BlockDigests.like(digests)
    for offset, length in pieces_of([(0, SIZE)]):
        observed.add(offset, data[offset:offset + length])
    observed.finish()
    return observed


extents = st.lists(st.tuples(st.integers(0, SIZE - 1), st.integers(1, 300_000)), max_size=6).map(
    lambda spans: sorted({(offset, min(length, SIZE - offset)) for offset, length in spans}))


def disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for offset, length in spans:
        if out and offset <= out[-1][0] + out[-1][1]:
            last = out.pop()
            end = max(last[0] + last[1], offset + length)
            out.append((last[0], end - last[0]))
        else:
            out.append((offset, length))
    return out


@settings(max_examples=60, deadline=None)
@given(extents, st.lists(st.tuples(st.integers(0, SIZE - 64), st.integers(1, 64)), max_size=4), st.integers())
def test_recorded_digests_match_the_read_back(allocated: list[tuple[int, int]], spans: list[tuple[int, int]],
                                              seed: int) -> None:
    allocated = disjoint(allocated)
    data = disk_bytes(seed, allocated)
    patches = [BytePatch(offset, bytes(data[offset:offset + length]), bytes(length), "test")
               for offset, length in disjoint(sorted(spans))]
    digests = recorded(bytes(data), allocated, patches)
    patched = bytearray(data)
    for patch in patches:
        patched[patch.offset:patch.end] = bytes([0xA5]) * len(patch.new)  # whatever the patch wrote
    assert list(digests.differing(read_back(bytes(patched), digests))) == []
    unpatched = [block for block in range(digests.blocks) if block not in digests.masks]
    assert all((digests.expected(block) == NO_DIGEST) == (not any(data[block * BLOCK:(block + 1) * BLOCK]))
               for block in unpatched)


def test_a_changed_byte_outside_a_patch_changes_the_digest() -> None:
    allocated = [(0, SIZE)]
    data = disk_bytes(1, allocated)
    patch = BytePatch(BLOCK + 100, bytes(data[BLOCK + 100:BLOCK + 104]), b"NEW!", "test")
    digests = recorded(bytes(data), allocated, [patch])
    for at in (0, BLOCK + 99, BLOCK + 104, SIZE - 1):
        changed = bytearray(data)
        changed[at] ^= 1
        assert list(digests.differing(read_back(bytes(changed), digests))) == [at // BLOCK], at


def test_a_block_whose_only_data_is_patched_has_no_digest() -> None:
    data = bytearray(SIZE)
    data[BLOCK + 10:BLOCK + 14] = b"DATA"
    patch = BytePatch(BLOCK + 10, b"DATA", bytes(4), "test")
    digests = recorded(bytes(data), [(BLOCK, BLOCK)], [patch])
    assert [digests.expected(block) for block in range(digests.blocks)] == [NO_DIGEST] * digests.blocks


def test_patch_masks_split_at_block_boundaries() -> None:
    patch = BytePatch(BLOCK - 2, b"abcd", b"wxyz", "test")
    assert patch_masks([patch]) == {0: [(BLOCK - 2, BLOCK)], 1: [(0, 2)]}
