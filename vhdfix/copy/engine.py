"""``copy_disk``: a disk, with a plan's byte patches spliced in, written once as a new image file, or as a fixed VHD
into a page blob in Azure Storage."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vhdfix.copy.blob_output import BlobOutput
from vhdfix.copy.buffers import keep_freed_buffers
from vhdfix.copy.digests import BlockDigests
from vhdfix.copy.output import OutputFile
from vhdfix.copy.progress import CopyProgress, ProgressCallback
from vhdfix.copy.scan import PatchedScan
from vhdfix.copy.vhd import DynamicVhdWriter, fixed_footer, fixed_size
from vhdfix.copy.vhdx import DEFAULT_BLOCK_SIZE, VhdxWriter
from vhdfix.copy.writer import FlatWriter, ImageWriter
from vhdfix.disk.container import Container
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import FormatNotAvailable, OutputExists, OutputIsInput
from vhdfix.plan import BytePatch
from vhdfix.remote.url import BlobUrl

TARGET_FORMATS = ("same", "vhd-fixed", "vhd-dynamic", "vhdx", "raw")
NAMED_TARGETS = {"vhd-fixed": ("vhd", "fixed"), "vhd-dynamic": ("vhd", "dynamic"), "vhdx": ("vhdx", "dynamic"),
                 "raw": ("raw", "raw")}
WRITABLE_FORMATS = ("vhd", "vhdx", "raw")
FIXED_VHD = "vhd-fixed"


@dataclass(frozen=True)
class Target:
    format: str  # "vhd", "vhdx" or "raw", as in ContainerInfo
    variant: str  # "fixed", "dynamic" or "raw"


def resolve_target(requested: str, source: Container) -> Target:
    """The output format for ``--format requested``. ``same`` keeps the input's format; a differencing
    input becomes a standalone image of its base's variant."""
    info = source.info
    if requested == "same":
        if info.format not in WRITABLE_FORMATS:
            raise FormatNotAvailable(f"--format same: vhdfix does not write {info.format.upper()}; choose one of "
                                     f"{', '.join(TARGET_FORMATS[1:])}")
        variant = source.chain[-1].variant if info.variant == "differencing" else info.variant
        return Target(info.format, variant)
    if requested not in NAMED_TARGETS:
        raise FormatNotAvailable(f"unknown output format {requested!r}; choose one of {', '.join(TARGET_FORMATS)}")
    target = Target(*NAMED_TARGETS[requested])
    if target.format == "vhd" and info.sector_size != 512:
        raise FormatNotAvailable(f"the disk has {info.sector_size}-byte sectors and VHD has 512-byte sectors; "
                                 "its partition table would no longer match: choose vhdx or raw")
    return target


def open_writer(target: Target, out: OutputFile, source: Container) -> ImageWriter:
    size = source.virtual_size
    source_file = source.image.fileno() if isinstance(source.image, ImageFile) else None
    if target.format == "raw":
        return FlatWriter(out, size, source_file=source_file)
    if target.format == "vhd" and target.variant == "fixed":
        rounded = fixed_size(size)
        return FlatWriter(out, rounded, fixed_footer(rounded), source_file)
    if target.format == "vhd":
        return DynamicVhdWriter(out, size)
    logical = source.info.sector_size
    if isinstance(source, VhdxDisk):
        return VhdxWriter(out, size, logical, source.metadata.physical_sector_size, source.block_size,
                          fixed=target.variant == "fixed")
    return VhdxWriter(out, size, logical, logical, DEFAULT_BLOCK_SIZE, fixed=target.variant == "fixed")


def resolve_blob_target(requested: str, source: Container) -> Target:
    """The output format for ``--format requested`` into a blob: always a fixed VHD (``same`` means it too)."""
    if requested not in ("same", FIXED_VHD):
        raise FormatNotAvailable(f"--format {requested}: a disk in Azure Storage is written as a fixed VHD; "
                                 f"use --format {FIXED_VHD} (or leave --format out)")
    return resolve_target(FIXED_VHD, source)


def refuse_overwriting_input(output: Path | BlobUrl, source: Container) -> None:
    """The input and its parents are never replaced, not even with ``--force``."""
    for link in source.chain:
        if isinstance(output, BlobUrl):
            if output.display == link.path:
                role = "the input disk" if link.path == source.chain[0].path else "a parent of the input disk"
                raise OutputIsInput(f"{output}: is {role}; write the copy somewhere else")
            continue
        same = os.path.realpath(output) == os.path.realpath(link.path)
        if not same and output.exists():
            try:
                same = output.samefile(link.path)
            except OSError:
                same = False
        if same:
            role = "the input disk" if link.path == source.chain[0].path else "a parent of the input disk"
            raise OutputIsInput(f"{output}: is {role} ({link.path}); write the copy somewhere else")


@dataclass(frozen=True)
class CopyResult:
    path: str
    format: str
    variant: str
    virtual_size: int
    file_size: int
    allocated: int  # bytes the file occupies on its file system
    bytes_read: int  # bytes of the source read: its allocated data
    bytes_written: int  # bytes written to the file (zero pages are skipped), by the kernel's copy included
    seconds: float  # from the first read to the output in place, ``check`` included
    check_seconds: float = 0.0  # of which spent in ``check``
    kernel_copied: int = 0  # of bytes_written, copied from the input by the kernel (os.copy_file_range)
    stale_removed: tuple[str, ...] = ()  # temporary files of killed earlier copies to this path, removed first
    blob: dict[str, object] | None = None  # a page blob's destination: what was found, requests, bytes sent

    def to_json(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "path": self.path, "format": self.format, "variant": self.variant, "virtual_size": self.virtual_size,
            "size": self.file_size, "allocated": self.allocated, "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written, "seconds": round(self.seconds, 3),
            "copy_seconds": round(self.seconds - self.check_seconds, 3), "kernel_copied": self.kernel_copied,
            "stale_temporaries_removed": list(self.stale_removed)}
        if self.blob is not None:
            fields["blob"] = self.blob
        return fields


def _reporter(scan: PatchedScan, out: OutputFile | BlobOutput, progress: ProgressCallback | None,
              started: float) -> Callable[..., None]:
    def report(finished: bool = False) -> None:
        if progress is not None:
            progress(CopyProgress(scan.done, scan.total, out.bytes_written, time.monotonic() - started, finished))
    return report


def _timed_check(check: Callable[[Path | str], None] | None, path: Path | str) -> float:
    """Seconds ``check`` took on ``path`` (it raises to reject the copy)."""
    started = time.monotonic()
    if check is not None:
        check(path)
    return time.monotonic() - started


def copy_disk(source: Container, output: str | os.PathLike[str] | BlobOutput, target: str = "same",
              patches: Sequence[BytePatch] = (), *, replace: bool = False, progress: ProgressCallback | None = None,
              check: Callable[[Path | str], None] | None = None, digests: BlockDigests | None = None) -> CopyResult:
    """Write ``source`` with ``patches`` applied to ``output`` in the ``target`` format.

    The file is written in ``output``'s directory without a name (or, where
    the system cannot, under a temporary name), given to ``check`` as a path
    that reopens it (``check`` may verify it, and raises to reject it; the
    device meanwhile writes the last pages), synced, and only then named
    ``output``. On any error or
    interruption nothing is left behind; temporary files that killed earlier
    copies to ``output`` left are removed first (``CopyResult.stale_removed``).

    A :class:`BlobOutput` receives a fixed VHD in its page blob, checked by ``check`` with the blob's URL; on any
    error or interruption what was written is undone (``BlobOutput.cleanup``).

    ``digests``, when given, records the input's blocks as they are read, for ``check`` to compare the output with.
    """
    keep_freed_buffers()
    if isinstance(output, BlobOutput):
        return _copy_to_blob(source, output, target, patches, progress, check, digests)
    path = Path(output)
    resolved = resolve_target(target, source)
    refuse_overwriting_input(path, source)
    if path.exists() and not replace:
        raise OutputExists(f"{path}: already exists; use --force to replace it")
    scan = PatchedScan(source, patches, digests)
    started = time.monotonic()
    with OutputFile(path, replace) as out:
        writer = open_writer(resolved, out, source)
        report = _reporter(scan, out, progress, started)
        for offset, data, stored_at in scan.pieces(report):
            writer.write(offset, data, stored_at)
        writer.finish()
        out.settle()
        report(finished=True)
        # checked while the device still writes the last pages: it reads what the page cache holds either way
        checked = _timed_check(check, out.path)
        out.sync()
        stat = out.stat()
        out.commit()
    return CopyResult(str(path), resolved.format, resolved.variant, writer.virtual_size, stat.st_size,
                      getattr(stat, "st_blocks", 0) * 512, scan.done, out.bytes_written, time.monotonic() - started,
                      checked, out.kernel_copied, tuple(str(stale) for stale in out.stale_removed))


def _copy_to_blob(source: Container, out: BlobOutput, target: str, patches: Sequence[BytePatch],
                  progress: ProgressCallback | None, check: Callable[[Path | str], None] | None,
                  digests: BlockDigests | None) -> CopyResult:
    """The disk's pieces at their own offsets in the page blob (a fixed VHD's data area), then the footer."""
    resolve_blob_target(target, source)
    refuse_overwriting_input(out.url, source)
    scan = PatchedScan(source, patches, digests)
    started = time.monotonic()
    with out:
        report = _reporter(scan, out, progress, started)
        for offset, data, _ in scan.pieces(report):
            out.write_at(offset, data)
        out.write_at(out.virtual_size, fixed_footer(out.virtual_size))
        out.sync()
        source.check_unchanged()  # a source blob that changed while it was copied is no copy
        report(finished=True)
        checked = _timed_check(check, out.path)
        out.commit()
    return CopyResult(out.display, "vhd", "fixed", out.virtual_size, out.size, out.bytes_written, scan.done,
                      out.bytes_written, time.monotonic() - started, checked, blob=out.to_json())
