"""A container file, opened read-only, with a count of bytes read: on the host, or a blob (vhdfix.remote)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from vhdfix.budget import check_time_budget
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import InputNotFound, InputUnreadable, Truncated, foreign_errors

HAS_PREAD = hasattr(os, "pread")  # not on Windows


class ImageSource(Protocol):
    """What the container readers read a disk image through: :class:`ImageFile` for a local file,
    :class:`vhdfix.remote.blob_image.BlobImage` for a blob in Azure Storage."""

    path: Any  # a Path, or a vhdfix.remote.BlobUrl: both have .name and .suffix, and str() fit for display
    size: int
    bytes_read: int

    def read_at(self, offset: int, length: int) -> bytes: ...

    def read_exact(self, offset: int, length: int, what: str) -> bytes: ...

    def data_extents(self, start: int, end: int) -> Iterator[tuple[int, int]]: ...

    takes_hints: bool  # whether prefetch does anything (a blob fetches ahead; a local file is read as fast later)

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        """A hint: the (offset, length) ranges of the file will be read soon."""

    def check_unchanged(self) -> None:
        """Raise if the image changed, or could not be read, since it was opened."""

    def close(self) -> None: ...


class ImageFile:
    """Positional, read-only access to one file of a disk image.

    The file is opened ``O_RDONLY`` and never written. ``bytes_read`` lets the
    benchmarks prove that inspection reads only what it needs.
    """

    takes_hints = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise InputNotFound(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise InputUnreadable(f"{self.path}: is a directory, not a disk image") from None
        except OSError as exc:
            raise InputUnreadable(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        try:
            with foreign_errors(InputUnreadable, f"{self.path}: cannot stat", foreign=OSError):
                self.size = os.fstat(self._fh.fileno()).st_size
        except InputUnreadable:
            self._fh.close()
            raise
        self.bytes_read = 0

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; short only at end of file."""
        check_time_budget()  # every read of a disk passes here: crafted loops that read end with the budget
        if length <= 0 or offset >= self.size:
            return b""
        length = min(length, self.size - offset)
        with foreign_errors(InputUnreadable, f"{self.path}: read error at {offset}", foreign=OSError):
            if HAS_PREAD:  # one system call, and one release of the GIL, instead of two
                data = os.pread(self._fh.fileno(), length, offset)
            else:
                self._fh.seek(offset)
                data = self._fh.read(length)
        self.bytes_read += len(data)
        return data

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        """Exactly ``length`` bytes, or :class:`Truncated` naming ``what``."""
        data = self.read_at(offset, length)
        if len(data) != length:
            raise Truncated(f"{self.path.name}: file ends inside the {what} (offset {offset}, {length} bytes)")
        return data

    def data_extents(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """The (offset, length) extents of ``[start, end)`` that are not holes in the host file.

        Asked of the file system with ``SEEK_DATA``/``SEEK_HOLE``; where it cannot
        tell, the whole span is one extent.
        """
        end = min(end, self.size)
        fd = self._fh.fileno()
        seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
        position = start
        while position < end:
            if seek_data is None or seek_hole is None:
                yield position, end - position
                return
            try:
                data = os.lseek(fd, position, seek_data)
                hole = os.lseek(fd, data, seek_hole)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # nothing but a hole from here to the end of the file
                    return
                if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                    seek_data = None
                    continue
                raise InputUnreadable(f"{self.path}: cannot map its data: {exc.strerror or exc}") from None
            if data >= end:
                return
            stop = min(hole, end)
            yield data, stop - data
            position = stop

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Nothing to do: a local file is read as fast when asked."""

    def fileno(self) -> int:
        """The read-only descriptor, for the kernel to copy from (``os.copy_file_range``)."""
        return self._fh.fileno()

    def check_unchanged(self) -> None:
        """Nothing to check: a local file is read as it is."""

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ImageFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def image_stream(image: ImageSource) -> ReadOnlyStream:
    """The whole file as a read-only file object whose reads are counted."""
    return ReadOnlyStream(image.read_at, image.size)
