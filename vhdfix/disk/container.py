"""What every container reader provides: exact virtual-disk bytes and a description."""

from __future__ import annotations

import heapq
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from vhdfix.disk.image_file import ImageSource

Range = tuple[int, int]  # (offset, length) on the virtual disk


def merge_ranges(*sources: Iterable[Range]) -> Iterator[Range]:
    """The union of sorted range sequences, as sorted ranges that neither overlap nor touch."""
    pending: Range | None = None
    for offset, length in heapq.merge(*sources):
        if length <= 0:
            continue
        if pending is not None and offset <= pending[0] + pending[1]:
            pending = (pending[0], max(pending[1], offset + length - pending[0]))
            continue
        if pending is not None:
            yield pending
        pending = (offset, length)
    if pending is not None:
        yield pending


def block_pieces(ranges: Iterable[Range], block_size: int) -> Iterator[tuple[int, int, int, int]]:
    """``ranges`` cut at every multiple of ``block_size``: (block, offset within it, offset, length) for each piece."""
    for offset, length in ranges:
        while length > 0:
            block, within = divmod(offset, block_size)
            step = min(length, block_size - within)
            yield block, within, offset, step
            offset += step
            length -= step


def clip_ranges(ranges: Iterable[Range], end: int) -> Iterator[Range]:
    """Sorted ``ranges`` cut off at ``end``."""
    for offset, length in ranges:
        if offset >= end:
            return
        yield offset, min(length, end - offset)


@dataclass(frozen=True)
class ChainLink:
    """One file of a disk: the child first, then each parent."""

    path: str
    format: str
    variant: str
    virtual_size: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "variant": self.variant,
                "virtual_size": self.virtual_size}


@dataclass
class ContainerInfo:
    format: str  # "raw", "vhd", "vhdx", "vmdk", "qcow2"
    variant: str  # "fixed", "dynamic", "differencing", "raw"
    virtual_size: int
    sector_size: int = 512
    block_size: int | None = None
    warnings: list[str] = field(default_factory=list)


class Container(ABC):
    """A read-only virtual disk backed by one file and, for differencing, its parents.

    ``read`` returns exactly the bytes a hypervisor would present: holes read
    as zeros, differencing sectors come from the parent, and a read is never
    short inside the virtual size.
    """

    def __init__(self, image: ImageSource, info: ContainerInfo, parent: Container | None = None) -> None:
        self.image = image
        self.info = info
        self.parent = parent

    @property
    def virtual_size(self) -> int:
        return self.info.virtual_size

    @abstractmethod
    def _read(self, offset: int, length: int) -> bytes:
        """Bytes at ``offset``, with ``offset + length <= virtual_size`` guaranteed."""

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        if offset >= self.virtual_size or length == 0:
            return b""
        length = min(length, self.virtual_size - offset)
        return self._read(offset, length)

    @property
    def takes_hints(self) -> bool:
        """Whether :meth:`prefetch` reaches a file that uses it (a blob), so that readers need not compute hints."""
        return self.image.takes_hints or (self.parent is not None and self.parent.takes_hints)

    def prefetch(self, ranges: Iterable[Range]) -> None:
        """A hint: these ranges of the virtual disk will be read soon. Passed on as ranges of the files that hold
        them, for a blob to fetch side by side (a local file ignores it)."""
        clipped = [(offset, min(length, self.virtual_size - offset)) for offset, length in ranges
                   if 0 <= offset < self.virtual_size and length > 0]
        if clipped:
            self._prefetch(clipped)

    def _prefetch(self, ranges: list[Range]) -> None:  # noqa: B027 - optional: a hint may be dropped
        """Pass the hint on, translated to file offsets; by default (dissect's readers) it is dropped."""

    def _with_parent_ranges(self, own: Iterator[Range]) -> Iterator[Range]:
        """``own`` ranges, merged for a differencing disk with its parent's (clipped to this disk)."""
        if self.parent is None:
            return merge_ranges(own)
        return merge_ranges(own, clip_ranges(self.parent.allocated_ranges(), self.virtual_size))

    def stored_extent(self, offset: int, length: int) -> int | None:
        """The offset in :attr:`image` (a local file) where the disk's bytes ``[offset, offset + length)`` are
        stored contiguously, as they read; None where they are not, or not only there. Lets a copy have the
        kernel copy them."""
        return None

    def allocated_ranges(self) -> Iterator[Range]:
        """Sorted, disjoint ranges outside which every byte of the disk reads as zero.

        A superset is allowed; this default is the whole disk. Readers that know
        their allocation (a BAT, the host file's holes) narrow it, so that a copy
        reads only what is allocated. A differencing disk includes its parents'.
        """
        if self.virtual_size:
            yield 0, self.virtual_size

    @property
    def chain(self) -> list[ChainLink]:
        links = []
        node: Container | None = self
        while node is not None:
            links.append(ChainLink(str(node.image.path), node.info.format, node.info.variant,
                                   node.info.virtual_size))
            node = node.parent
        return links

    @property
    def warnings(self) -> list[str]:
        out: list[str] = []
        node: Container | None = self
        while node is not None:
            out.extend(node.info.warnings)
            node = node.parent
        return out

    @property
    def bytes_read(self) -> int:
        total = 0
        node: Container | None = self
        while node is not None:
            total += node.image.bytes_read
            node = node.parent
        return total

    def check_unchanged(self) -> None:
        """Raise if a file of the chain changed, or failed to read, while it was open (a blob in Azure Storage)."""
        node: Container | None = self
        while node is not None:
            node.image.check_unchanged()
            node = node.parent

    def close(self) -> None:
        node: Container | None = self
        while node is not None:
            node.image.close()
            node = node.parent
