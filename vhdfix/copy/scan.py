"""The source side of a copy: the disk's allocated data, read in large pieces, with a plan's patches spliced in.

Only the container's allocated ranges are read (plus the bytes the patches
name), so the time grows with the data, not the virtual size. Pieces that are
all zeros after patching are dropped: the target formats read them as zeros
without storing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise

from vhdfix.copy.digests import BLOCK, BlockDigests
from vhdfix.disk.container import Container, block_pieces, merge_ranges
from vhdfix.errors import OldBytesMismatch
from vhdfix.plan import BytePatch

CHUNK = BLOCK  # pieces never cross a CHUNK boundary; every target block size is a multiple of it
ZERO_CHUNK = bytes(CHUNK)


class PatchedScan:
    """The non-zero pieces of ``source`` in ascending order, each ``patches`` byte applied once.

    Each patch's ``old`` bytes are checked against the source as the copy
    passes them; a difference stops the copy with :class:`PatchMismatch`.
    """

    def __init__(self, source: Container, patches: Sequence[BytePatch] = (),
                 digests: BlockDigests | None = None) -> None:
        self.source = source
        self.digests = digests  # records the input's bytes as they are read, before patching
        self.patches = sorted(patches, key=lambda patch: patch.offset)
        for patch in self.patches:
            if patch.end > source.virtual_size:
                raise OldBytesMismatch(f"patch at virtual offset {patch.offset} ({patch.reason}) lies past the end of "
                                    f"the {source.virtual_size}-byte disk")
        for before, after in pairwise(self.patches):
            if after.offset < before.end:
                raise OldBytesMismatch(f"patches overlap at virtual offset {after.offset}: {before.reason!r} and "
                                    f"{after.reason!r}")
        self.ranges = list(merge_ranges(source.allocated_ranges(),
                                        ((patch.offset, len(patch.new)) for patch in self.patches)))
        self.total = sum(length for _, length in self.ranges)
        self.done = 0  # bytes read so far

    def pieces(self, after_read: Callable[[], None] | None = None) -> Iterator[tuple[int, bytes, int | None]]:
        """``(virtual offset, data, stored at)`` for every piece that holds a non-zero byte after patching, with
        where an unpatched piece is stored contiguously in the source's image file (else None);
        ``after_read`` is called after each piece is read, zero or not."""
        try:
            yield from self._pieces(after_read)
            if self.digests is not None:
                self.digests.finish()
        finally:
            if self.digests is not None:
                self.digests.close()

    def _pieces(self, after_read: Callable[[], None] | None) -> Iterator[tuple[int, bytes, int | None]]:
        upcoming = 0
        for _, _, offset, length in block_pieces(self.ranges, CHUNK):
            data = self.source.read(offset, length)
            if self.digests is not None:
                self.digests.add(offset, data)
            while upcoming < len(self.patches) and self.patches[upcoming].end <= offset:
                upcoming += 1
            stored_at = None
            if upcoming < len(self.patches) and self.patches[upcoming].offset < offset + length:
                data = self._splice(offset, data, upcoming)
            else:
                stored_at = self.source.stored_extent(offset, length)
            self.done += length
            if after_read is not None:
                after_read()
            if data != (ZERO_CHUNK if length == CHUNK else bytes(length)):
                yield offset, data, stored_at

    def _splice(self, offset: int, data: bytes, first: int) -> bytes:
        end = offset + len(data)
        patched = bytearray(data)
        for patch in self.patches[first:]:
            if patch.offset >= end:
                break
            start, stop = max(offset, patch.offset), min(end, patch.end)
            found = data[start - offset:stop - offset]
            expected = patch.old[start - patch.offset:stop - patch.offset]
            if found != expected:
                raise OldBytesMismatch(f"at virtual offset {start} the disk holds {found[:16].hex()} where the plan "
                                    f"expects {expected[:16].hex()} ({patch.reason}); the disk changed since it "
                                    "was planned, or the plan is wrong")
            patched[start - offset:stop - offset] = patch.new[start - patch.offset:stop - patch.offset]
        return bytes(patched)
