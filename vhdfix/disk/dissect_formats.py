"""VMDK and QCOW2, read through dissect.hypervisor behind vhdfix errors."""

from __future__ import annotations

from typing import BinaryIO

from vhdfix.disk.container import Container, ContainerInfo
from vhdfix.disk.image_file import ImageFile, image_stream
from vhdfix.errors import CorruptContainer, Truncated, UnsupportedFormat, foreign_errors


class DissectDisk(Container):
    def __init__(self, image: ImageFile, info: ContainerInfo, stream: BinaryIO) -> None:
        super().__init__(image, info)
        self._stream = stream

    def _read(self, offset: int, length: int) -> bytes:
        with foreign_errors(CorruptContainer, f"{self.image.path.name}: {self.info.format} read failed at {offset}"):
            self._stream.seek(offset)
            data = self._stream.read(length)
        if len(data) != length:
            raise Truncated(f"{self.image.path.name}: {self.info.format} data ends early at {offset}")
        return data


def open_with_dissect(image: ImageFile, kind: str) -> DissectDisk:
    from dissect.hypervisor.disk import qcow2, vmdk

    name = image.path.name
    fh = image_stream(image)
    with foreign_errors(CorruptContainer, f"{name}: not a readable {kind.upper()} image"):
        if kind == "qcow2":
            disk = qcow2.QCow2(fh, allow_no_backing_file=True)
            if disk.backing_file is not None or getattr(disk, "auto_backing_file", None):
                raise UnsupportedFormat(f"{name}: QCOW2 with a backing file is not supported; "
                                        "convert it to a standalone image first")
            stream = disk.open()
        else:
            if fh.read(4) not in (b"KDMV", b"COWD"):
                raise UnsupportedFormat(f"{name}: only single-file VMDK images are supported")
            fh.seek(0)
            disk = vmdk.VMDK(fh)
            if getattr(disk, "parent", None) is not None:
                raise UnsupportedFormat(f"{name}: VMDK with a parent is not supported")
            stream = disk
        # dissect's AlignedStream reads whole 8 KiB buffers, and VMDK.read_sectors raises IndexError for a
        # buffer that runs past the last extent of a disk whose size is not a multiple of 8 KiB
        # (KNOWN_ISSUES.md). Sector-sized buffers never leave the disk.
        stream.align = 512
    return DissectDisk(image, ContainerInfo(kind, "dynamic", stream.size), stream)
