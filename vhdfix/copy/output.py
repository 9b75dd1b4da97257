"""The output file: written beside OUT under a temporary name, sparsely, then synced and renamed into place.

Nothing is left behind on failure. Whatever ends the ``with`` block early (a
write error, a full disk, a failed check, Ctrl-C) closes and removes the
temporary file, so OUT only ever appears complete and synced.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from vhdfix.errors import OutputError, OutputExists, OutputFull, OutputInvalid

PAGE = 4096  # host pages that hold only zeros are left as holes
ZERO_PAGE = bytes(PAGE)
TEMP_MARK = ".vhdfix-"  # temporary files are named .<stem>.vhdfix-<token><suffix>
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}
WRITEBACK_INTERVAL = 32 << 20  # start writing dirty pages to the device every 32 MiB, so that fsync waits little
SYNC_FILE_RANGE_WRITE = 2  # Linux sync_file_range(2): start writeback of dirty pages, do not wait


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's sync_file_range(2) from the C library (the os module lacks it), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


START_WRITEBACK = _sync_file_range()


def data_runs(data: bytes, file_offset: int) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of ``data`` covering every host page (aligned at file offsets) that holds a
    non-zero byte. Pages of zeros in between are left out, so that they stay holes."""
    length = len(data)
    if data.find(ZERO_PAGE) < 0:  # no page-long run of zeros at all, so every page is written
        return [(0, length)] if length >= PAGE or data != bytes(length) else []
    runs: list[tuple[int, int]] = []
    start = 0
    stop = min(length, -file_offset % PAGE or PAGE)
    run_start = -1
    while start < length:
        page = data[start:stop]
        zero = page == ZERO_PAGE if stop - start == PAGE else not page.strip(b"\0")
        if zero and run_start >= 0:
            runs.append((run_start, start))
            run_start = -1
        elif not zero and run_start < 0:
            run_start = start
        start, stop = stop, min(length, stop + PAGE)
    if run_start >= 0:
        runs.append((run_start, length))
    return runs


class OutputFile:
    """A new image file for ``target``; ``replace`` allows an existing ``target`` to be replaced."""

    def __init__(self, target: Path, replace: bool = False) -> None:
        self.target = target
        self.replace = replace
        self.path = target  # the temporary file, once created
        self.bytes_written = 0
        self._unflushed = 0
        self._fd = -1
        self._created = False
        self._committed = False

    def __enter__(self) -> OutputFile:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        while self._fd < 0:
            self.path = self.target.with_name(f".{self.target.stem}{TEMP_MARK}{secrets.token_hex(4)}"
                                              f"{self.target.suffix}")
            try:
                self._fd = os.open(self.path, flags, 0o666)
                self._created = True
            except FileExistsError:
                continue
            except FileNotFoundError:
                raise OutputInvalid(f"{self.target.parent}: no such directory") from None
            except OSError as exc:
                raise self._error(exc, "creating a temporary file") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self._committed:
            self.discard()

    def _error(self, exc: OSError, what: str) -> OutputError:
        if exc.errno in NO_SPACE:
            return OutputFull(f"{self.target.parent}: no space left on the device while {what} "
                              f"({self.bytes_written} bytes written); nothing was kept")
        return OutputError(f"{self.path}: {what} failed: {exc.strerror or exc}")

    def write_at(self, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset``, leaving its all-zero host pages unwritten (holes read as zeros)."""
        view = memoryview(data)
        for start, stop in data_runs(data, offset):
            position = start
            while position < stop:
                try:
                    count = os.pwrite(self._fd, view[position:stop], offset + position)
                except OSError as exc:
                    raise self._error(exc, f"writing at offset {offset + position}") from None
                if count <= 0:
                    raise OutputError(f"{self.path}: the file system accepted no bytes at offset {offset + position}")
                position += count
                self.bytes_written += count
                self._unflushed += count
        if self._unflushed >= WRITEBACK_INTERVAL and START_WRITEBACK is not None:
            START_WRITEBACK(self._fd, 0, 0, SYNC_FILE_RANGE_WRITE)  # a hint: fsync reports any error
            self._unflushed = 0

    def truncate(self, size: int) -> None:
        """Set the file's length; bytes never written read as zeros."""
        try:
            os.ftruncate(self._fd, size)
        except OSError as exc:
            raise self._error(exc, f"setting the file size to {size}") from None

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._error(exc, "flushing the file to disk") from None

    def stat(self) -> os.stat_result:
        return os.fstat(self._fd)

    def commit(self) -> None:
        """Move the synced temporary file to ``target`` and make the rename durable."""
        try:
            os.close(self._fd)
        except OSError as exc:
            raise self._error(exc, "closing the file") from None
        finally:
            self._fd = -1
        try:
            if self.replace:
                os.replace(self.path, self.target)
            else:
                self._rename_without_replacing()
        except IsADirectoryError:
            raise OutputInvalid(f"{self.target}: is a directory") from None
        except OSError as exc:
            raise self._error(exc, f"renaming to {self.target.name}") from None
        self._committed = True
        self._sync_directory()

    def _rename_without_replacing(self) -> None:
        try:
            os.link(self.path, self.target)  # fails if the target appeared in the meantime
        except FileExistsError:
            raise OutputExists(f"{self.target}: appeared while the copy was written; use --force to replace it") \
                from None
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            if self.target.exists():
                raise OutputExists(f"{self.target}: appeared while the copy was written; use --force to replace "
                                   "it") from None
            os.rename(self.path, self.target)
            return
        os.unlink(self.path)

    def _sync_directory(self) -> None:
        try:
            fd = os.open(self.target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return  # not every platform can open a directory; the file itself is synced
        try:
            with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
                os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Close and remove the temporary file."""
        if not self._created or self._committed:
            return
        if self._fd >= 0:
            with contextlib.suppress(OSError):  # removing the file below is what matters
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
