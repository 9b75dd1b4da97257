"""A disk image in Azure Storage, read with ranged GETs through a block cache.

It offers what :class:`vhdfix.disk.image_file.ImageFile` offers for a local file,
so every container reader works on it unchanged:

* Reads are served from a cache of aligned :data:`BLOCK_SIZE` blocks (at most
  :data:`CACHE_BLOCKS`, least recently used out first). Missing neighbouring
  blocks are fetched with one request, extended by up to :data:`READ_AHEAD`
  blocks that follow; the runs of missing blocks one read needs are fetched side
  by side (:mod:`vhdfix.remote.parallel_fetch`, :data:`WORKERS` at once).
* :meth:`prefetch` is told what the readers will read soon (the runs of a file
  the NTFS layer is about to read, through the container's map): its missing
  blocks, each range with the read-ahead a read of it would have, are fetched
  side by side, in requests of at most :data:`FETCH_BLOCKS` blocks, at most
  :data:`PREFETCH_BLOCKS` per hint, so that a hint never evicts its own blocks.
* A page blob's page ranges (:mod:`vhdfix.remote.page_map`) are its allocation
  map: a block without pages is zeros, without a request, a request is trimmed to
  the pages it covers, and :meth:`data_extents` gives the page ranges.
* The blob's ETag is taken at open; every request carries it as ``If-Match``, and
  :meth:`check_unchanged` compares it again at the end: a changed blob is
  ``remote-changed``.
* The first remote failure sticks: later reads and :meth:`check_unchanged` raise
  it again without a request, so a reader that turns a damaged file into a warning
  cannot hide that the disk could not be read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from azure.core import MatchConditions

from vhdfix.budget import check_time_budget
from vhdfix.errors import RemoteChanged, Truncated, VhdfixError
from vhdfix.remote import credentials
from vhdfix.remote.block_cache import BlockCache
from vhdfix.remote.credentials import Transport, blob_client
from vhdfix.remote.failures import remote_errors
from vhdfix.remote.page_map import PageMap, Range
from vhdfix.remote.parallel_fetch import ParallelFetch
from vhdfix.remote.throttling import retry_throttled
from vhdfix.remote.url import BlobUrl

BLOCK_SIZE = 32 * 1024
READ_AHEAD = 3  # blocks fetched after a miss (a request is at least 128 KiB): NTFS and hive reads go on forward
CACHE_BLOCKS = 1024  # 32 MiB
WORKERS = 4  # requests in flight at once, each of at most FETCH_BLOCKS blocks when hinted
FETCH_BLOCKS = 32  # 1 MiB: a long hinted run is split into requests that go side by side
PREFETCH_BLOCKS = CACHE_BLOCKS // 2  # 16 MiB fetched per hint at most

T = TypeVar("T")


class BlobImage:
    """Positional, read-only access to one blob, with counts of what it cost."""

    takes_hints = True

    def __init__(self, url: BlobUrl, transport: Transport | None = None) -> None:
        self.path = url
        self.bytes_read = 0  # bytes served to the readers, as for a local file
        self.bytes_downloaded = 0
        self.requests = 0
        self.rounds = 0  # waits on the network one after another: requests side by side are one round
        self._failure: VhdfixError | None = None
        self._cache = BlockCache(CACHE_BLOCKS)
        self._transport = transport or credentials.TRANSPORT
        self._count_lock = threading.Lock()
        self._client = blob_client(url, self._count_response, self._transport)
        self._fetcher = ParallelFetch(WORKERS, self._transport.longest_wait(), url.display)
        try:
            properties = self._call("opening", self._client.get_blob_properties)
        except BaseException:
            self._client.close()
            raise
        self.size: int = properties.size
        self.etag: str = properties.etag
        self.blob_type = str(getattr(properties.blob_type, "value", properties.blob_type))
        self._pages = PageMap(self.size, self._list_pages) if self.blob_type == "PageBlob" else None

    def _count_response(self, response: Any) -> None:
        with self._count_lock:  # the fetcher's threads answer here too
            self.requests += 1

    def _call(self, doing: str, call: Callable[[], T]) -> T:
        """``call()``, with its SDK errors translated and remembered, and HTTP 429 retried with backoff."""
        if self._failure is not None:
            raise self._failure
        self.rounds += 1
        try:
            with remote_errors(self.path.display, doing):
                return retry_throttled(call, self._transport)
        except VhdfixError as exc:
            self._failure = exc
            raise

    def _list_pages(self, offset: int, length: int) -> list[Range]:
        def listing() -> list[Range]:
            return [(page.start, page.end + 1 - page.start) for page in self._client.list_page_ranges(
                offset=offset, length=length, etag=self.etag, match_condition=MatchConditions.IfNotModified)
                if not page.cleared]
        return self._call(f"listing the pages of {length} bytes at {offset}", listing)

    def _get(self, offset: int, length: int) -> bytes:
        """One ranged GET, its SDK errors translated and HTTP 429 retried; safe on the fetcher's threads."""
        def ranged_get() -> bytes:
            # The SDK's own Get Blob operation, through the client's pipeline (credentials, retries, timeouts):
            # the public download_blob() lists every page range of a page blob after each ranged GET, which on a
            # large, fragmented disk costs more than the read.
            stream = self._client._client.blob.download(range=f"bytes={offset}-{offset + length - 1}",
                                                        headers={"If-Match": self.etag})
            return b"".join(stream)
        with remote_errors(self.path.display, f"reading {length} bytes at {offset}"):
            return retry_throttled(ranged_get, self._transport)

    def _download(self, spans: list[Range]) -> list[bytes]:
        """The bytes of every span, fetched side by side; the first failure sticks."""
        if self._failure is not None:
            raise self._failure
        self.rounds += bool(spans)
        try:
            found = self._fetcher.map(self._get, spans)
        except VhdfixError as exc:
            self._failure = exc
            raise
        for (offset, length), data in zip(spans, found, strict=True):
            self.bytes_downloaded += len(data)
            if len(data) != length:
                self._failure = RemoteChanged(f"{self.path.display}: the server returned {len(data)} bytes for "
                                              f"{length} at {offset}; the blob changed after vhdfix opened it")
                raise self._failure
        return found

    def _fetch(self, runs: list[tuple[int, int]]) -> dict[int, bytes]:
        """The blocks of the runs ``(first, last)``: one request per run for the pages it holds (the runs side by
        side), zeros for the rest."""
        plans: list[tuple[int, int, Range | None]] = []
        for first, last in runs:
            extents = list(self.data_extents(first * BLOCK_SIZE, (last + 1) * BLOCK_SIZE))
            low, high = (extents[0][0], extents[-1][0] + extents[-1][1]) if extents else (0, 0)
            plans.append((first, last, (low, high - low) if extents else None))
        downloaded = iter(self._download([span for _, _, span in plans if span is not None]))
        blocks: dict[int, bytes] = {}
        for first, last, span in plans:
            start = first * BLOCK_SIZE
            buffer = bytearray(min((last + 1) * BLOCK_SIZE, self.size) - start)
            if span is not None:
                buffer[span[0] - start:span[0] - start + span[1]] = next(downloaded)
            for index in range(first, last + 1):
                blocks[index] = bytes(buffer[(index - first) * BLOCK_SIZE:(index - first + 1) * BLOCK_SIZE])
        return blocks

    def _blocks(self, first: int, last: int) -> dict[int, bytes]:
        """Blocks ``first..last``, from the cache or fetched (neighbouring misses together, with read-ahead)."""
        found: dict[int, bytes] = {}
        runs: list[tuple[int, int]] = []
        last_block = (self.size - 1) // BLOCK_SIZE
        index = first
        while index <= last:
            cached = self._cache.get(index)
            if cached is not None:
                found[index] = cached
                index += 1
                continue
            run_end = index
            while run_end < last and run_end + 1 not in self._cache:
                run_end += 1
            ahead = run_end
            while ahead < min(run_end + READ_AHEAD, last_block) and ahead + 1 not in self._cache:
                ahead += 1
            runs.append((index, ahead))
            index = run_end + 1
        for number, block in self._fetch(runs).items():
            self._cache.put(number, block)
            if number <= last:
                found[number] = block
        return found

    def prefetch(self, ranges: Iterable[Range]) -> None:
        """Fetch the blocks of ``ranges`` (blob offsets) that are not cached, side by side; they are read soon."""
        if self._failure is not None:
            raise self._failure
        wanted: set[int] = set()
        last_block = (self.size - 1) // BLOCK_SIZE
        for offset, length in ranges:
            end = min(offset + length, self.size)
            if offset < 0 or end <= offset:
                continue
            last = (end - 1) // BLOCK_SIZE
            for index in range(offset // BLOCK_SIZE, min(last + READ_AHEAD, last_block) + 1):
                if len(wanted) >= PREFETCH_BLOCKS or (index > last and index in self._cache):
                    break  # read-ahead, as a read's, stops at a cached block
                if index not in self._cache:
                    wanted.add(index)
        runs: list[tuple[int, int]] = []
        for index in sorted(wanted):
            if runs and runs[-1][1] == index - 1 and index - runs[-1][0] < FETCH_BLOCKS:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
        if runs:
            check_time_budget()
            for number, block in self._fetch(runs).items():
                self._cache.put(number, block)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; short only at the end of the blob."""
        check_time_budget()
        if self._failure is not None:
            raise self._failure
        if length <= 0 or offset >= self.size:
            return b""
        length = min(length, self.size - offset)
        first, last = offset // BLOCK_SIZE, (offset + length - 1) // BLOCK_SIZE
        blocks = self._blocks(first, last)
        joined = b"".join(blocks[index] for index in range(first, last + 1))
        skip = offset - first * BLOCK_SIZE
        self.bytes_read += length
        return joined[skip:skip + length]

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        """Exactly ``length`` bytes, or :class:`Truncated` naming ``what``."""
        data = self.read_at(offset, length)
        if len(data) != length:
            raise Truncated(f"{self.path.name}: blob ends inside the {what} (offset {offset}, {length} bytes)")
        return data

    def data_extents(self, start: int, end: int) -> Iterator[Range]:
        """The extents of ``[start, end)`` that hold data: a page blob's page ranges, else the whole span."""
        end = min(end, self.size)
        if self._pages is not None:
            yield from self._pages.ranges(start, end)
        elif end > start:
            yield start, end - start

    def check_unchanged(self) -> None:
        """Raise the first failure met, or :class:`RemoteChanged` if the blob's ETag is no longer the one at open."""
        properties = self._call("checking that the blob did not change", self._client.get_blob_properties)
        if properties.etag != self.etag:
            self._failure = RemoteChanged(f"{self.path.display}: the blob changed while vhdfix read it "
                                          "(its ETag differs from the one at open); inspect it again")
            raise self._failure

    def close(self) -> None:
        self._fetcher.close()
        self._cache.clear()
        self._client.close()

    def __enter__(self) -> BlobImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
