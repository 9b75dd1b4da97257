"""A repaired disk's destination in Azure Storage: a page blob, in the role :class:`~vhdfix.copy.output.OutputFile`
has for a local file.

* Before anything is written (:meth:`BlobOutput.check`), the destination must be
  absent, or a page blob of exactly the image's size without pages (what
  ``az disk create --for-upload`` gives); with ``force`` a page blob of that size
  holding data is cleared first. Anything else is a usage error, and the
  destination is left as it was.
* Only pages that hold a non-zero byte are sent: the copy's pieces are gathered
  into page-aligned runs and put in requests of at most 4 MiB, by a few threads,
  with a bounded number of requests in flight (so memory stays bounded).
* Until :meth:`commit`, any failure or interruption undoes what was written
  (:meth:`discard`): a blob this output created is deleted; pages written into
  a blob that was there are cleared. :attr:`cleanup` says what was done.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

from vhdfix.copy.vhd import fixed_size
from vhdfix.disk.vhd_format import FOOTER_SIZE
from vhdfix.errors import OutputExists, RemoteSizeMismatch, RemoteTooSmall, VhdfixError
from vhdfix.remote import open_page_writer
from vhdfix.remote.url import BlobUrl

if TYPE_CHECKING:
    from vhdfix.remote.page_writer import BlobState

PAGE = 512
MAX_PUT = 4 << 20  # the most one Put Page may write
WORKERS = 6
IN_FLIGHT = 2 * WORKERS  # requests submitted and not yet done: at most IN_FLIGHT * 4 MiB of data held
ZERO_PAGE = bytes(PAGE)


def page_runs(data: bytes) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of ``data`` (a whole number of pages) covering every page that holds a non-zero byte,
    each at most :data:`MAX_PUT` long."""
    runs: list[tuple[int, int]] = []
    if data.find(ZERO_PAGE) < 0:  # no 512-byte run of zeros anywhere, so no zero page
        spans = [(0, len(data))]
    else:
        spans, start = [], -1
        for at in range(0, len(data), PAGE):
            zero = data[at:at + PAGE] == ZERO_PAGE
            if zero and start >= 0:
                spans.append((start, at))
                start = -1
            elif not zero and start < 0:
                start = at
        if start >= 0:
            spans.append((start, len(data)))
    for start, stop in spans:
        runs += [(at, min(stop, at + MAX_PUT)) for at in range(start, stop, MAX_PUT)]
    return runs


class BlobOutput:
    """The page blob at ``url`` that receives a disk of ``virtual_size`` bytes as a fixed VHD: rounded up to a whole
    MiB (Azure's rule), then the 512-byte footer."""

    def __init__(self, url: BlobUrl, virtual_size: int, force: bool = False, workers: int = WORKERS) -> None:
        self.url = url
        self.virtual_size = fixed_size(virtual_size)
        self.size = self.virtual_size + FOOTER_SIZE
        self.force = force
        self.path = url.full  # what the verifier reopens: with the credentials, which never reach the output
        self.bytes_written = 0  # bytes of the pages put
        self.puts = 0
        self.before: BlobState | None = None
        self.created = False
        self.cleanup = "none"  # what discard() did: none, deleted, cleared, or failed: ...
        self._writer = open_page_writer(url)
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._buffer = bytearray()  # page-aligned data waiting to be put, from _buffer_at
        self._buffer_at = 0
        self._low, self._high = self.size, 0  # the span of the pages put
        self._committed = False

    @property
    def display(self) -> str:
        return self.url.display

    @property
    def requests(self) -> int:
        return self._writer.requests

    @property
    def bytes_sent(self) -> int:
        """Request body bytes sent to the server, retries included."""
        return self._writer.bytes_sent

    def to_json(self) -> dict[str, object]:
        before = self.before
        found = "absent" if before is None or not before.exists else "page blob with data" if before.has_data \
            else "empty page blob"
        return {"url": self.display, "found": found, "created": self.created, "put_requests": self.puts,
                "requests": self.requests, "bytes_sent": self.bytes_sent}

    def check(self) -> BlobState:
        """The destination's state, or the usage error that forbids writing it; nothing is written."""
        state = self.before = self._writer.state()
        if not state.exists:
            return state
        if state.blob_type != "PageBlob":
            raise OutputExists(f"{self.display}: is a {state.blob_type}, not a page blob; a disk is written as a page "
                               "blob: remove it or choose another name")
        if state.size < self.size:
            raise RemoteTooSmall(f"{self.display}: the page blob has {state.size} bytes and the repaired fixed VHD "
                                 f"needs {self.size} (its virtual size {self.virtual_size} plus the 512-byte footer); "
                                 f"create the disk with --upload-size-bytes {self.size}")
        if state.size != self.size:
            raise RemoteSizeMismatch(f"{self.display}: the page blob has {state.size} bytes, not the {self.size} of "
                                     "the repaired fixed VHD (the footer must be its last 512 bytes); create the disk "
                                     f"with --upload-size-bytes {self.size}")
        if state.has_data and not self.force:
            raise OutputExists(f"{self.display}: the page blob already holds data; use --force to overwrite it")
        return state

    def __enter__(self) -> BlobOutput:
        state = self.before or self.check()
        try:
            if not state.exists:
                self._writer.create(self.size)
                self.created = True
            elif state.has_data:
                for offset, length in self._writer.page_ranges():
                    self._writer.clear(offset, length)
        except BaseException:
            self.close()
            raise
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="vhdfix-put")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if not self._committed:
                self.discard()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self.close()

    def close(self) -> None:
        self._writer.close()

    def write_at(self, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset``. Pieces come in ascending order without overlap, so only the last buffered
        page may be shared with the next piece."""
        if self._buffer and offset > -(-(self._buffer_at + len(self._buffer)) // PAGE) * PAGE:
            self._flush()
        if not self._buffer:
            self._buffer_at = offset - offset % PAGE
        self._buffer += bytes(offset - self._buffer_at - len(self._buffer))
        self._buffer += data
        if len(self._buffer) >= MAX_PUT:
            self._flush(keep_partial_page=True)

    def _flush(self, keep_partial_page: bool = False) -> None:
        """Put the buffered pages that hold data; with ``keep_partial_page`` an unfinished last page stays."""
        if not self._buffer:
            return
        keep = len(self._buffer) % PAGE if keep_partial_page else 0
        if not keep:
            self._buffer += bytes(-len(self._buffer) % PAGE)
        cut = len(self._buffer) - keep
        data, self._buffer = bytes(self._buffer[:cut]), self._buffer[cut:]
        at, self._buffer_at = self._buffer_at, self._buffer_at + cut
        for start, stop in page_runs(data):
            self._submit(at + start, data[start:stop])

    def _submit(self, offset: int, data: bytes) -> None:
        assert self._pool is not None, "written inside the with block"
        while len(self._pending) >= IN_FLIGHT:
            self._pending.popleft().result()
        self._low, self._high = min(self._low, offset), max(self._high, offset + len(data))
        self._pending.append(self._pool.submit(self._writer.put, offset, data))
        self.bytes_written += len(data)
        self.puts += 1

    def sync(self) -> None:
        """Put what is buffered and wait for every request: the first failure is raised."""
        self._flush()
        while self._pending:
            self._pending.popleft().result()

    def commit(self) -> None:
        self.sync()
        self._committed = True

    def discard(self) -> None:
        """Undo what was written, once every request has ended; :attr:`cleanup` says how it went."""
        if self._committed:
            return
        self._committed = True  # once
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            if not future.cancelled():
                future.exception()  # wait; its failure is not the one to report
        self._pending.clear()
        try:
            if self.created:
                self._writer.delete()
                self.cleanup = "deleted"
            elif self._high > self._low:
                self._writer.clear(self._low, self._high - self._low)
                self.cleanup = "cleared"
        except VhdfixError as exc:
            self.cleanup = f"failed: [{exc.code}] {exc.message}"
