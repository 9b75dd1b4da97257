"""A raw (flat) disk image: the file is the disk."""

from __future__ import annotations

from collections.abc import Iterator

from vhdfix.disk.container import Container, ContainerInfo, Range
from vhdfix.disk.image_file import ImageFile


class RawDisk(Container):
    def _read(self, offset: int, length: int) -> bytes:
        return self.image.read_exact(offset, length, "raw disk data")

    def _prefetch(self, ranges: list[Range]) -> None:
        self.image.prefetch(ranges)

    def stored_extent(self, offset: int, length: int) -> int | None:
        return offset if isinstance(self.image, ImageFile) else None

    def allocated_ranges(self) -> Iterator[Range]:
        """The file's data extents: holes in a sparse raw file read as zeros."""
        return self.image.data_extents(0, self.virtual_size)


def open_raw(image: ImageFile) -> RawDisk:
    return RawDisk(image, ContainerInfo("raw", "raw", image.size))
