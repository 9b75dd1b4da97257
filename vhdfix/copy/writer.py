"""What every output format's writer does, and the flat ones: raw and fixed VHD."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from vhdfix.copy.output import OutputFile


def split_at_blocks(offset: int, data: bytes, block_size: int) -> Iterator[tuple[int, int, bytes]]:
    """``(block, offset within the block, piece)`` for ``data`` at virtual ``offset``, cut at block boundaries."""
    position = 0
    while position < len(data):
        block, within = divmod(offset + position, block_size)
        step = min(len(data) - position, block_size - within)
        yield block, within, data[position:position + step] if step < len(data) else data
        position += step


class ImageWriter(ABC):
    """Writes one image file: :meth:`write` gets every non-zero piece of the virtual disk in ascending
    order, never twice, with where the input's image file stores it unchanged (or None); :meth:`finish` writes
    the format's own structures. Everything not written reads as zeros."""

    def __init__(self, out: OutputFile, virtual_size: int) -> None:
        self.out = out
        self.virtual_size = virtual_size  # the output's, which a format may round up

    @abstractmethod
    def write(self, offset: int, data: bytes, stored_at: int | None = None) -> None: ...

    @abstractmethod
    def finish(self) -> None: ...


class FlatWriter(ImageWriter):
    """The disk's bytes at their own offsets in a sparse file, then an optional trailer:
    a raw image, or with a footer a fixed VHD. Pieces the input's image file (``source_file``, a descriptor)
    stores unchanged are copied by the kernel (:meth:`OutputFile.copy_at`)."""

    def __init__(self, out: OutputFile, virtual_size: int, trailer: bytes = b"",
                 source_file: int | None = None) -> None:
        super().__init__(out, virtual_size)
        self.trailer = trailer
        self.source_file = source_file
        out.truncate(virtual_size + len(trailer))

    def write(self, offset: int, data: bytes, stored_at: int | None = None) -> None:
        if stored_at is not None and self.source_file is not None:
            self.out.copy_at(offset, data, self.source_file, stored_at)
        else:
            self.out.write_at(offset, data)

    def finish(self) -> None:
        if self.trailer:
            self.out.write_at(self.virtual_size, self.trailer)
