"""Open a disk image, a local file or a blob URL: detect its container format and follow its parent chain."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from vhdfix.disk.container import Container
from vhdfix.disk.image_file import ImageFile, ImageSource
from vhdfix.disk.parent import MAX_CHAIN_DEPTH, ParentHints, ParentPolicy, file_name
from vhdfix.errors import NotADiskImage, ParentLoop, ParentMissing, RemoteAuthFailed, RemoteNotFound, foreign_errors
from vhdfix.remote import BlobUrl, is_url, open_blob

Location = Path | BlobUrl  # a local file, or a blob in Azure Storage

RAW_SUFFIXES = {".raw", ".img", ".bin", ".dd", ".ima"}
MBR_SIGNATURE_OFFSET = 510


def detect_format(image: ImageSource) -> str:
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

    def open(self, location: Location, depth: int = 0) -> Container:
        if isinstance(location, BlobUrl):
            image: ImageSource = open_blob(location)
            self._seen.add(location.display)
        else:
            image = ImageFile(location)
            self._seen.add(os.path.realpath(location))
        try:
            return self._open_as(detect_format(image), image, depth)
        except BaseException:
            image.close()
            raise

    def _open_as(self, kind: str, image: ImageSource, depth: int) -> Container:
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

    def open_parent(self, child: Location, depth: int, hints: ParentHints) -> Container:
        """Open the parent of ``child`` (which sits at ``depth``); identity checks are the caller's."""
        if isinstance(child, BlobUrl):
            return self._open_remote_parent(child, depth, hints)
        path = self.policy.locate(child, depth, hints, self._seen)
        return self.open(path, depth + 1)

    def _open_remote_parent(self, child: BlobUrl, depth: int, hints: ParentHints) -> Container:
        """A blob's parent: the one given with ``--parent``, else a blob of a recorded file name beside it in the
        same container, reached with the child's credentials (which a SAS for the child's blob alone does not
        grant)."""
        if depth >= MAX_CHAIN_DEPTH:
            raise ParentLoop(f"{child.name}: differencing chain deeper than {MAX_CHAIN_DEPTH} disks")
        if depth < len(self.policy.explicit):
            given = self.policy.explicit[depth]
            if not given.is_file():
                raise ParentMissing(f"{child.name}: the given parent {given} does not exist")
            return self.open(given, depth + 1)
        for name in dict.fromkeys(filter(None, map(file_name, hints.relative_paths + hints.absolute_paths +
                                                    hints.names))):
            sibling = child.sibling(name)
            if sibling.display in self._seen:
                raise ParentLoop(f"{child.name}: parent {sibling} is already in the chain")
            try:
                return self.open(sibling, depth + 1)
            except (RemoteNotFound, RemoteAuthFailed):
                continue
        raise ParentMissing(f"{child.name}: parent disk not found, or not readable with the child's credentials, "
                            f"beside it in its container; it records {hints.describe()}; a SAS for one blob does not "
                            "open another: use a container SAS, or download the parent and give it with --parent")


def open_disk(path: str | os.PathLike[str], parents: Sequence[str | os.PathLike[str]] = (),
              follow_locator_paths: bool = False) -> Container:
    """Open ``path``, a local file or an ``https://`` blob URL, read-only as a virtual disk.

    ``parents`` names the differencing chain explicitly, immediate parent
    first; levels not named are looked up beside each child.
    """
    policy = ParentPolicy([Path(p) for p in parents], follow_locator_paths)
    # A URL is parsed before any Path conversion, which would fold its "//" and keep its SAS in the name.
    location: Location = BlobUrl.parse(path) if isinstance(path, str) and is_url(path) else Path(path)
    with foreign_errors(NotADiskImage, location.name, foreign=RecursionError):
        return ChainOpener(policy).open(location)
