"""Open a disk image file: detect its container format and follow its parent chain."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from vhdfix.disk.container import Container
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.parent import ParentHints, ParentPolicy
from vhdfix.errors import NotADiskImage, foreign_errors

RAW_SUFFIXES = {".raw", ".img", ".bin", ".dd", ".ima"}
MBR_SIGNATURE_OFFSET = 510


def detect_format(image: ImageFile) -> str:
    """One of vhd, vhdx, qcow2, vmdk, raw; or NotADiskImage."""
    if image.size == 0:
        raise NotADiskImage(f"{image.path.name}: the file is empty")
    head = image.read_at(0, 512)
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    from vhdfix.disk.vhd import has_vhd_cookie

    if has_vhd_cookie(image):
        return "vhd"
    if head.startswith(b"QFI\xfb"):
        return "qcow2"
    if head.startswith(b"KDMV") or head.startswith(b"COWD") or b"# Disk DescriptorFile" in head:
        return "vmdk"
    if image.path.suffix.lower() in RAW_SUFFIXES:
        return "raw"
    if len(head) == 512 and head[MBR_SIGNATURE_OFFSET:] == b"\x55\xaa":
        return "raw"
    raise NotADiskImage(f"{image.path.name}: not a VHD, VHDX, VMDK, QCOW2 or raw disk image")


class ChainOpener:
    """Opens one image file and, through :meth:`open_parent`, the rest of its chain."""

    def __init__(self, policy: ParentPolicy) -> None:
        self.policy = policy
        self._seen: set[str] = set()

    def open(self, path: Path, depth: int = 0) -> Container:
        image = ImageFile(path)
        self._seen.add(os.path.realpath(path))
        try:
            return self._open_as(detect_format(image), image, depth)
        except BaseException:
            image.close()
            raise

    def _open_as(self, kind: str, image: ImageFile, depth: int) -> Container:
        # Each reader is imported when a disk needs it: compiling one container's structures takes milliseconds.
        if kind == "vhd":
            from vhdfix.disk.vhd import open_vhd

            return open_vhd(image, self, depth)
        if kind == "vhdx":
            from vhdfix.disk.vhdx import open_vhdx

            return open_vhdx(image, self, depth)
        if kind == "raw":
            from vhdfix.disk.raw import open_raw

            return open_raw(image)
        from vhdfix.disk.dissect_formats import open_with_dissect

        return open_with_dissect(image, kind)

    def open_parent(self, child: Path, depth: int, hints: ParentHints) -> Container:
        """Open the parent of ``child`` (which sits at ``depth``); identity checks are the caller's."""
        path = self.policy.locate(child, depth, hints, self._seen)
        return self.open(path, depth + 1)


def open_disk(path: str | os.PathLike[str], parents: Sequence[str | os.PathLike[str]] = (),
              follow_locator_paths: bool = False) -> Container:
    """Open ``path`` read-only as a virtual disk.

    ``parents`` names the differencing chain explicitly, immediate parent
    first; levels not named are looked up beside each child.
    """
    policy = ParentPolicy([Path(p) for p in parents], follow_locator_paths)
    with foreign_errors(NotADiskImage, Path(path).name, foreign=RecursionError):
        return ChainOpener(policy).open(Path(path))
