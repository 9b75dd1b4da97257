"""The block-level proof that a copy left every byte outside the plan's patches as the input had it.

While copying, :class:`BlockDigests` records a digest of each 1 MiB block of
the input's virtual disk, leaving out the bytes the plan patches: the block's
CRC, marked as present. A block whose recorded bytes are all zeros (never
read, or read as zeros) has no digest (:data:`NO_DIGEST`), and is compared
exactly. Verification records the output's blocks the same way from what its
container stores (:meth:`BlockDigests.like`), so the two tables are equal
exactly where the plan changes nothing (:meth:`BlockDigests.differing`).
Memory is 8 bytes per MiB of virtual disk.

Why a CRC and not SHA-256: this guards against accidental damage (a writer
defect, an I/O error, a misplaced block), which a 32-bit CRC catches with
certainty for any change of up to 3 bits and otherwise misses with probability
2**-32 per block, and both the input and the copy are digested, so its speed
is the verification's. The CRC is CRC-32C on the CPU's own instruction where
the optional ``vhdfix.disk._crc32c`` is built (about 22 GB/s on the benchmark
machine), else zlib's CRC-32 (about 2.7 GB/s; SHA-256 runs at 1.1-1.5 GB/s);
one repair uses one of them on both sides (:data:`CHECKSUM`).

With zlib's CRC, hashing runs on a background thread
(:class:`~vhdfix.copy.background.Background`; zlib releases the GIL), so that
it overlaps the reading and writing. The CPU's instruction hashes a block in
about 50 us, less than handing it to a thread costs, so then it runs inline.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from vhdfix.copy.background import Background
from vhdfix.disk.crc32c import HARDWARE, crc32c
from vhdfix.plan import BytePatch

BLOCK = 1 << 20
DIGEST_SIZE = 8
PRESENT = 1 << 32  # set in every digest of a block holding data, so that none equals NO_DIGEST
NO_DIGEST = bytes(DIGEST_SIZE)
ZERO_BLOCK = bytes(BLOCK)
Span = tuple[int, int]  # [start, stop) within a block
CHECKSUM: Callable[[bytes | memoryview, int], int] = crc32c if HARDWARE else zlib.crc32
HASHING_THREADS = 0 if HARDWARE else 1


class _Crc:
    """A running :data:`CHECKSUM`, as a digest."""

    def __init__(self, data: bytes = b"") -> None:
        self.value = CHECKSUM(data, 0)

    def update(self, data: bytes | memoryview) -> None:
        self.value = CHECKSUM(data, self.value)

    def digest(self) -> bytes:
        return struct.pack("<Q", PRESENT | self.value)


def patch_masks(patches: Sequence[BytePatch]) -> dict[int, list[Span]]:
    """Per block, the sorted spans of its bytes that a patch covers."""
    masks: dict[int, list[Span]] = {}
    for patch in sorted(patches, key=lambda patch: patch.offset):
        offset = patch.offset
        while offset < patch.end:
            block, within = divmod(offset, BLOCK)
            stop = min(patch.end - block * BLOCK, BLOCK)
            masks.setdefault(block, []).append((within, stop))
            offset = block * BLOCK + stop
    return masks


def unmasked(start: int, stop: int, mask: Sequence[Span]) -> Iterator[Span]:
    """The parts of ``[start, stop)`` (offsets within a block) outside ``mask``."""
    for low, high in mask:
        if high <= start:
            continue
        if low >= stop:
            break
        if low > start:
            yield start, low
        start = max(start, high)
    if start < stop:
        yield start, stop


def _all_zero(data: bytes, within: int, mask: Sequence[Span]) -> bool:
    """Whether the bytes of ``data`` (at ``within`` in its block) outside ``mask`` are all zeros."""
    if not mask:
        return data == (ZERO_BLOCK if len(data) == BLOCK else bytes(len(data)))
    return not any(data[start - within:stop - within].strip(b"\0")
                   for start, stop in unmasked(within, within + len(data), mask))


@dataclass
class _OpenBlock:
    """The block being recorded: pieces arrive in ascending order, gaps between them are zeros."""

    index: int
    length: int  # bytes of the virtual disk in this block
    mask: Sequence[Span]
    position: int = 0  # bytes of the block accounted for
    digest: _Crc | None = None  # created at the first non-zero byte

    def add(self, within: int, data: bytes) -> None:
        if self.digest is None and _all_zero(data, within, self.mask):
            self.position = within + len(data)
            return
        if self.digest is None:  # every byte before this piece is a zero
            self.digest, self.position = _Crc(), 0
        self._zeros_until(within)
        view = memoryview(data)
        for start, stop in unmasked(within, within + len(data), self.mask):
            self.digest.update(view[start - within:stop - within])
        self.position = within + len(data)

    def _zeros_until(self, within: int) -> None:
        assert self.digest is not None
        for start, stop in unmasked(self.position, within, self.mask):
            self.digest.update(memoryview(ZERO_BLOCK)[:stop - start])
        self.position = within

    def close(self) -> bytes:
        if self.digest is None:
            return NO_DIGEST
        self._zeros_until(self.length)
        return self.digest.digest()


class BlockDigests:
    """The digests of a ``virtual_size``-byte disk's blocks, recorded from pieces given in ascending order
    (:meth:`add`), with the ``patches`` bytes left out."""

    def __init__(self, virtual_size: int, patches: Sequence[BytePatch] = ()) -> None:
        self.virtual_size = virtual_size
        self.blocks = -(-virtual_size // BLOCK)
        self.masks = patch_masks(patches)
        self._table = bytearray(self.blocks * DIGEST_SIZE)
        self._open: _OpenBlock | None = None
        self._worker: Background | None = None

    @classmethod
    def like(cls, other: BlockDigests) -> BlockDigests:
        """An empty table for the same disk size and patches as ``other``: for another disk to compare with it."""
        digests = cls(other.virtual_size)
        digests.masks = other.masks
        return digests

    def add(self, offset: int, data: bytes) -> None:
        """Record the disk's bytes ``data`` at virtual ``offset``; a piece never crosses a block boundary.
        Pieces come in ascending order; bytes between them are zeros."""
        if self._worker is None:
            self._worker = Background(workers=HASHING_THREADS)
        self._worker.submit(self._add, offset, data)

    def finish(self) -> None:
        """Wait until every piece given is recorded."""
        if self._worker is not None:
            self._worker.submit(self._close)
            self._worker.drain()
            self.close()

    def close(self) -> None:
        """Stop the hashing thread (also when the copy failed)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _add(self, offset: int, data: bytes) -> None:
        block, within = divmod(offset, BLOCK)
        if self._open is None or self._open.index != block:
            self._close()
            length = min(BLOCK, self.virtual_size - block * BLOCK)
            self._open = _OpenBlock(block, length, self.masks.get(block, ()))
        self._open.add(within, data)

    def _close(self) -> None:
        if self._open is not None:
            at = self._open.index * DIGEST_SIZE
            self._table[at:at + DIGEST_SIZE] = self._open.close()
            self._open = None

    def expected(self, block: int) -> bytes:
        """The recorded digest of ``block``; :data:`NO_DIGEST` for all zeros, and for blocks past the input's end."""
        if block >= self.blocks:
            return NO_DIGEST
        return bytes(self._table[block * DIGEST_SIZE:(block + 1) * DIGEST_SIZE])

    def differing(self, other: BlockDigests) -> Iterator[int]:
        """The blocks whose digests differ between this table and ``other`` (made :meth:`like` it), ascending."""
        if self._table == other._table:
            return iter(())
        return (block for block in range(self.blocks) if self.expected(block) != other.expected(block))
