"""The output file: written where no one can see it, synced, verified, and only then given OUT's name.

On Linux the file is created without a name (``O_TMPFILE``) in OUT's
directory and linked in as OUT at :meth:`OutputFile.commit`. Until then it is
reachable only through its descriptor, so however the writing process ends
(an error, Ctrl-C, ``kill -9``, the OOM killer, a power loss) nothing is left
behind: the file system frees an unnamed file once its last descriptor closes.

Elsewhere (other systems, and file systems without ``O_TMPFILE``) the file is
written beside OUT under a temporary name that records its writer (host, boot
and process id): ``.<stem>.vhdfix-<space>-<boot>-<pid>-<token><suffix>``.
Errors and interruptions remove it on the way out; a later copy to the same
OUT removes those a killed writer left, once it can tell their writer has
exited.

Either way OUT only ever appears complete and synced.
"""

from __future__ import annotations

import contextlib
import errno
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from vhdfix.copy.background import Background
from vhdfix.copy.temporaries import Owner, remove_stale_temporaries, temporary_name
from vhdfix.errors import OutputError, OutputExists, OutputFull, OutputInvalid, VhdfixError

PAGE = 4096  # host pages that hold only zeros are left as holes
ZERO_PAGE = bytes(PAGE)
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV}
# O_TMPFILE refused: by the file system (EOPNOTSUPP), or by a kernel older than 3.11, which opens the directory
# itself (EISDIR) or rejects the flags (EINVAL)
NO_UNNAMED_FILES = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL}
O_TMPFILE = getattr(os, "O_TMPFILE", 0)  # 0 where the platform has no unnamed files
WRITEBACK_INTERVAL = 256 << 20  # the data written so far goes to the device every 256 MiB (_flush_written)
FLUSH = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def data_runs(data: bytes, file_offset: int) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of ``data`` covering every host page (aligned at file offsets) that holds a
    non-zero byte. Pages of zeros in between are left out, so that they stay holes."""
    length = len(data)
    # A whole page of zeros starts with a zero byte: where no page boundary inside ``data`` has one, every page is
    # written (a slice with a step reads one byte per page, where searching for a page of zeros reads them all).
    if b"\0" not in data[-file_offset % PAGE::PAGE]:
        return [(0, length)] if length >= PAGE or data.strip(b"\0") else []
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
    """A new image file for ``target``; ``replace`` allows an existing ``target`` to be replaced.

    Until :meth:`commit`, :attr:`path` opens the file for reading (anew, as any reader would) in this process and
    those of its user: ``/proc/<pid>/fd/<fd>`` for an unnamed file, else its temporary name.
    """

    def __init__(self, target: Path, replace: bool = False) -> None:
        self.target = target
        self.replace = replace
        self.path = target
        self.stale_removed: list[Path] = []  # temporary files of killed writers, removed before this one was made
        self.bytes_written = 0
        self.kernel_copied = 0  # of bytes_written, copied by the kernel from another file
        self._kernel_copy = hasattr(os, "copy_file_range")
        self._unflushed = 0
        self._fd = -1
        self._directory = -1  # target's directory, held open for an unnamed file
        self._named: Path | None = None  # the temporary name, when the file has one
        self._committed = False
        self._writer: Background | None = None  # the thread that writes
        self._flusher: ThreadPoolExecutor | None = None  # the thread that flushes what was written so far
        self._flushing: Future[None] | None = None
        self._flush_error: OSError | None = None  # the first error a flush met, for sync to raise

    def __enter__(self) -> OutputFile:
        self.stale_removed = remove_stale_temporaries(self.target)
        if not self._create_unnamed():
            self._create_named()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self._committed:
            self.discard()

    def _create_unnamed(self) -> bool:
        """Create the file without a name; False where the platform, the file system or a missing /proc cannot."""
        if not O_TMPFILE:
            return False
        try:
            self._directory = os.open(self.target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._fd = os.open(".", O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666, dir_fd=self._directory)
        except OSError as exc:
            self._close()
            if exc.errno in NO_UNNAMED_FILES:
                return False
            raise self._create_error(exc) from None
        self.path = Path(f"/proc/{os.getpid()}/fd/{self._fd}")
        try:
            reachable = os.path.samestat(os.stat(self.path), os.fstat(self._fd))
        except OSError:
            reachable = False
        if not reachable:  # no /proc: the file could never be named
            self._close()
        return reachable

    def _create_named(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        owner = Owner.current()
        while self._fd < 0:
            path = self.target.with_name(temporary_name(self.target, owner))
            try:
                self._fd = os.open(path, flags, 0o666)
            except FileExistsError:
                continue
            except OSError as exc:
                raise self._create_error(exc) from None
            self.path = self._named = path

    def _create_error(self, exc: OSError) -> VhdfixError:
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            return OutputInvalid(f"{self.target.parent}: no such directory")
        return self._error(exc, "creating the file")

    def _error(self, exc: OSError, what: str) -> OutputError:
        if exc.errno in NO_SPACE:
            return OutputFull(f"{self.target.parent}: no space left on the device while {what} "
                              f"({self.bytes_written} bytes written); nothing was kept")
        return OutputError(f"{self.target}: {what} failed: {exc.strerror or exc}")

    def write_at(self, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset``, leaving its all-zero host pages unwritten (holes read as zeros).

        The write is done on a background thread, in the order given, while the copy reads on; its error is raised
        by a later call (at the latest :meth:`sync`)."""
        if self._writer is None:
            self._writer = Background()
        self._writer.submit(self._write_now, offset, data)

    def copy_at(self, offset: int, data: bytes, source: int, source_offset: int) -> None:
        """As :meth:`write_at`, for ``data`` that the file ``source`` (a descriptor) holds at ``source_offset``:
        when every host page of it holds data, the kernel copies it (``os.copy_file_range``: no second pass
        through Python's buffers); otherwise, or where the kernel cannot, it is written."""
        if self._writer is None:
            self._writer = Background()
        self._writer.submit(self._copy_now, offset, data, source, source_offset)

    def _copy_now(self, offset: int, data: bytes, source: int, source_offset: int) -> None:
        if not self._kernel_copy or data_runs(data, offset) != [(0, len(data))]:
            self._write_now(offset, data)
            return
        position = 0
        while position < len(data):
            try:
                count = os.copy_file_range(source, self._fd, len(data) - position, source_offset + position,
                                           offset + position)
            except OSError as exc:
                if exc.errno in NO_SPACE:
                    raise self._error(exc, f"writing at offset {offset + position}") from None
                count = 0  # this pair of files cannot be copied by the kernel: write instead
            if count <= 0:
                self._kernel_copy = False
                self._write_now(offset + position, data[position:])
                return
            position += count
            self.bytes_written += count
            self.kernel_copied += count
            self._unflushed += count
        self._flush_written()

    def settle(self) -> None:
        """Wait for every write handed to the background thread (raising the first error): then the file reads
        as written, though it may not be on the device yet (:meth:`sync`)."""
        if self._writer is not None:
            self._writer.drain()

    def _write_now(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        for start, stop in data_runs(data, offset):
            position = start
            while position < stop:
                try:
                    count = os.pwrite(self._fd, view[position:stop], offset + position)
                except OSError as exc:
                    raise self._error(exc, f"writing at offset {offset + position}") from None
                if count <= 0:
                    raise OutputError(f"{self.target}: the file system accepted no bytes at offset "
                                      f"{offset + position}")
                position += count
                self.bytes_written += count
                self._unflushed += count
        self._flush_written()

    def _flush_written(self) -> None:
        """Every :data:`WRITEBACK_INTERVAL` bytes, have what was written so far put on the device (fdatasync), on
        a thread of its own, never two at once: the device works while the copy and its verification go on, the
        writes never wait for it, and the final fsync finds little left to do. On the benchmark VM
        (benchmarks/bench_repair_data.py, VHDX output) a whole repair took 4.2-4.4 s this way, 5.4-6.3 s with
        sync_file_range(2) starting writeback every 32 MiB, and qemu-img convert with sync 4.9-5.4 s. The first
        error is kept for :meth:`sync`: Linux reports a writeback error once per open file, so the final fsync
        might not see it again."""
        if self._unflushed < WRITEBACK_INTERVAL:
            return
        if self._flushing is not None:
            if not self._flushing.done():
                return
            self._keep_flush_error()
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(1, thread_name_prefix="vhdfix-flush")
        self._flushing = self._flusher.submit(FLUSH, self._fd)
        self._unflushed = 0

    def _keep_flush_error(self) -> None:
        """Wait for the flush in progress and keep its error, if it is the first."""
        if self._flushing is None:
            return
        try:
            self._flushing.result()
        except OSError as exc:
            self._flush_error = self._flush_error or exc
        self._flushing = None

    def truncate(self, size: int) -> None:
        """Set the file's length; bytes never written read as zeros."""
        self.settle()
        try:
            os.ftruncate(self._fd, size)
        except OSError as exc:
            raise self._error(exc, f"setting the file size to {size}") from None

    def sync(self) -> None:
        self.settle()
        self._keep_flush_error()
        try:
            if self._flush_error is not None:
                raise self._flush_error
            os.fsync(self._fd)
        except OSError as exc:
            raise self._error(exc, "flushing the file to disk") from None

    def stat(self) -> os.stat_result:
        self.settle()
        return os.fstat(self._fd)

    def commit(self) -> None:
        """Give the synced file the name ``target`` and make that durable."""
        try:
            if self._named is None:
                self._link_unnamed()
            else:
                self._rename_named()
        except IsADirectoryError:
            raise OutputInvalid(f"{self.target}: is a directory") from None
        except OSError as exc:
            raise self._error(exc, f"naming the file {self.target.name}") from None
        self._committed = True
        self._sync_names()
        self._close()

    def _link_unnamed(self) -> None:
        if not self.replace:
            self._link(self.target.name)
            return
        # a link never replaces a name: link to a temporary name, then rename that over the target (a kill in
        # between leaves the temporary name for the next copy to remove)
        while True:
            name = temporary_name(self.target, Owner.current())
            try:
                self._link(name)
                break
            except FileExistsError:
                continue
        try:
            os.replace(name, self.target.name, src_dir_fd=self._directory, dst_dir_fd=self._directory)
        except BaseException:
            with contextlib.suppress(OSError):  # the rename's error is the one to report
                os.unlink(name, dir_fd=self._directory)
            raise

    def _link(self, name: str) -> None:
        """Name the unnamed file ``name`` in its directory.

        linkat(2) through /proc/<pid>/fd with AT_SYMLINK_FOLLOW works for any user on any kernel with O_TMPFILE;
        the descriptor form (AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH before Linux 6.10, and ctypes. Python calls
        linkat rather than link(2), which does not follow the /proc link, only when given a directory descriptor.
        """
        try:
            os.link(self.path, name, src_dir_fd=self._directory, dst_dir_fd=self._directory, follow_symlinks=True)
        except FileExistsError:
            if name != self.target.name:
                raise
            raise self._appeared() from None

    def _appeared(self) -> OutputExists:
        return OutputExists(f"{self.target}: appeared while the copy was written; use --force to replace it")

    def _rename_named(self) -> None:
        assert self._named is not None
        try:
            os.close(self._fd)  # before the rename, which some systems refuse on an open file
        finally:
            self._fd = -1
        if self.replace:
            os.replace(self._named, self.target)
            return
        try:
            os.link(self._named, self.target)  # fails if the target appeared in the meantime
        except FileExistsError:
            raise self._appeared() from None
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            if self.target.exists():
                raise self._appeared() from None
            os.rename(self._named, self.target)
            return
        os.unlink(self._named)

    def _sync_names(self) -> None:
        """Make the new name durable. The data is synced already, and OUT is in place: a failure here is not
        reported, as OUT's directory may not be syncable at all."""
        if self._fd >= 0:  # an unnamed file just linked: its link count changed from 0 to 1
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
        fd = self._directory
        if fd < 0:
            try:
                fd = os.open(self.target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError:
                return  # not every platform can open a directory
        try:
            with contextlib.suppress(OSError):  # some file systems refuse fsync on a directory
                os.fsync(fd)
        finally:
            if fd != self._directory:
                os.close(fd)

    def _close(self) -> None:
        if self._writer is not None:  # no write may land after the descriptor is closed, or on a reused one
            self._writer.close()
            self._writer = None
        if self._flusher is not None:
            self._flusher.shutdown(wait=True)
            self._flusher = self._flushing = None
        for fd in (self._fd, self._directory):
            if fd >= 0:
                with contextlib.suppress(OSError):  # closing an unnamed file frees it; nothing else to do
                    os.close(fd)
        self._fd = self._directory = -1

    def discard(self) -> None:
        """Close the file and remove it: an unnamed file goes when closed, a named one is unlinked."""
        if self._committed:
            return
        self._close()
        if self._named is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._named)
            self._named = None
