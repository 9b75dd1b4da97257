"""A raw (flat) disk image: the file is the disk."""

from __future__ import annotations

from vhdfix.disk.container import Container, ContainerInfo
from vhdfix.disk.image_file import ImageFile


class RawDisk(Container):
    def _read(self, offset: int, length: int) -> bytes:
        return self.image.read_exact(offset, length, "raw disk data")


def open_raw(image: ImageFile) -> RawDisk:
    return RawDisk(image, ContainerInfo("raw", "raw", image.size))
