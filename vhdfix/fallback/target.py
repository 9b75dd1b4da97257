"""Open an input through dissect.target's loaders, bounded, when vhdfix's own openers do not recognise it.

An archive is bounded before dissect reads it (:mod:`vhdfix.fallback.bounds`); a
directory is listed lazily by dissect, an image (E01, VDI...) read on demand.
All of it runs under the caller's time budget (:mod:`vhdfix.budget`), and every
exception dissect raises becomes :class:`DissectFailed`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from vhdfix.disk.opener import RAW_SUFFIXES
from vhdfix.errors import (
    DissectFailed,
    InputError,
    InputUnreadable,
    NoWindowsVolume,
    foreign_errors,
)
from vhdfix.fallback.bounds import check_archive
from vhdfix.fallback.files import TargetFiles
from vhdfix.remote import is_url

if TYPE_CHECKING:
    from dissect.target import Target

RAW_LOADER = "raw"  # dissect's last resort for a file: read as a disk
GENERIC_LOADERS = (RAW_LOADER, "dir")  # what dissect falls back to when no loader recognises the input
# Files named as a format vhdfix reads itself: its verdict stands (dissect's readers of these are the defective
# ones of KNOWN_ISSUES.md, e.g. a VHD without its cookie is read as a disk of size 0).
OWN_FORMAT_SUFFIXES = {".vhd", ".avhd", ".vhdx", ".avhdx", ".vmdk", ".qcow2", *RAW_SUFFIXES}

# dissect logs through the standard logging module; without a handler Python would print its warnings (and
# tracebacks) on stderr. An application that configures logging (target-query does) still gets them.
logging.getLogger("dissect").addHandler(logging.NullHandler())


def fallback_warning(loader: str, container: str | None = None) -> str:
    """The warning every result read through dissect.target carries (inspect's report and the dissect plugin)."""
    if loader == RAW_LOADER:
        what = ("the disk is read through dissect's container, volume and dissect.ntfs readers, without vhdfix's "
                "guards against their defects (KNOWN_ISSUES.md), and the NTFS volume state (dirty flag, $LogFile, "
                "hibernation) is not checked")
    else:
        what = ("the files are as collected: the NTFS volume state (dirty flag, $LogFile, hibernation) is not in the "
                "collection and is not checked")
    how = f"{loader} loader, {container} container" if container else f"{loader} loader"
    return (f"read through dissect.target {version('dissect.target')} ({how}), not vhdfix's own disk "
            f"readers: {what}; hives are read from their files and recovered from the .LOG1/.LOG2 beside them by "
            "vhdfix's own log replay; repair is not available for this input")


def loader_name(loader_class: type) -> str:
    """``tar``, ``dir``, ``zip``, ``raw``... from dissect's loader class name."""
    return loader_class.__name__.removesuffix("Loader").lower() or "unknown"


def container_name(target: Target) -> str | None:
    """``vdi``, ``ewf``, ``raw``...: the container dissect read the disk through, from its class name."""
    disks = list(target.disks)
    return type(disks[0]).__name__.removesuffix("Container").lower() if disks else None


def has_windows(target: Target) -> bool:
    """Did dissect's Windows plugin find an installation (and mount its volume as ``sysvol``)?"""
    return target.os == "windows" and target.fs.path("sysvol").exists()


@dataclass
class FallbackTarget:
    """An input opened through dissect.target, with its Windows files."""

    path: str
    loader: str
    target: Target
    files: TargetFiles
    container: str | None = None  # for the raw loader: the disk container (vdi, ewf...)

    @property
    def warning(self) -> str:
        return fallback_warning(self.loader, self.container)

    def to_json(self) -> dict[str, object]:
        return {"reader": "dissect.target", "version": version("dissect.target"), "loader": self.loader,
                "container": self.container, "warning": self.warning}


def from_target(target: Target, label: str) -> FallbackTarget:
    """The Windows files of a target dissect has already opened (the dissect plugin's case)."""
    from dissect.target.loader import DirLoader, RawLoader, find_loader

    with foreign_errors(DissectFailed, f"{label}: dissect.target"):
        found = find_loader(target.path, fallbacks=[DirLoader, RawLoader]) if target.path is not None else None
        loader = loader_name(found) if found is not None else "unknown"
        if not has_windows(target):
            raise NoWindowsVolume(f"{label}: dissect.target ({loader} loader) found no Windows installation")
        container = container_name(target) if loader == RAW_LOADER else None
    return FallbackTarget(label, loader, target, TargetFiles(target, label), container)


def open_fallback(path: str | os.PathLike[str], cause: InputError) -> FallbackTarget:
    """Open ``path`` through dissect.target, after vhdfix's own openers raised ``cause`` for it.

    ``cause`` stands when dissect cannot help: for a URL, an unreadable file that
    is not a directory, a file named as a format vhdfix reads itself, and (with
    dissect's reason added) when only dissect's generic raw or directory loader
    takes the input and finds no Windows installation in it (an image, E01 or
    VDI, is the raw loader's). A loader that recognises the input (tar, zip...)
    and fails gives :class:`DissectFailed`.
    """
    location = os.fspath(path)
    if is_url(location):
        raise cause
    local = Path(location)
    if (isinstance(cause, InputUnreadable) and not local.is_dir()) or local.suffix.lower() in OWN_FORMAT_SUFFIXES:
        raise cause
    from dissect.target import Target
    from dissect.target.loader import DirLoader, RawLoader, find_loader

    loader = "unknown"
    generic = local.is_dir()  # a directory no loader detects is dissect's generic directory loader's
    try:
        with foreign_errors(DissectFailed, f"{local.name}: dissect.target"):
            found = find_loader(local, fallbacks=[DirLoader, RawLoader])
            loader = loader_name(found) if found is not None else RAW_LOADER
            generic = loader in GENERIC_LOADERS
            check_archive(local, loader)
            target = Target.open(local)
            windows = has_windows(target)
            container = container_name(target) if loader == RAW_LOADER else None
    except DissectFailed as exc:
        if generic:
            raise type(cause)(f"{cause.message}; dissect.target does not open it either ({exc.message})") from None
        raise
    if not windows and generic:
        raise type(cause)(f"{cause.message}; dissect.target finds no Windows installation in it either")
    if not windows:
        raise NoWindowsVolume(f"{local.name}: dissect.target ({loader} loader) finds no Windows installation in it "
                              "(Windows\\System32 on a volume)")
    return FallbackTarget(location, loader, target, TargetFiles(target, local.name), container)
