"""A page blob written in place: what is there already, creating it, putting and clearing pages, deleting it.

Every SDK call of the write side is here, with its errors translated: a failure on
the destination is :class:`RemoteWriteFailed` (``repair`` exit 5), whose message
names the remote cause's code (``remote-auth-failed``, ``remote-unreachable``, ...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

from vhdfix.errors import InputError, OutputExists, RemoteNotFound, RemoteWriteFailed
from vhdfix.remote import credentials
from vhdfix.remote.credentials import Transport, blob_client
from vhdfix.remote.failures import remote_errors
from vhdfix.remote.page_map import Range
from vhdfix.remote.throttling import retry_throttled
from vhdfix.remote.url import BlobUrl

T = TypeVar("T")


@dataclass(frozen=True)
class BlobState:
    """What the destination is before anything is written: absent, or a blob of a type and size, with data or not."""

    exists: bool
    blob_type: str = ""
    size: int = 0
    has_data: bool = False


@contextmanager
def writing_errors(blob: str, doing: str) -> Iterator[None]:
    """The SDK's errors in the block as :class:`RemoteWriteFailed`, naming the remote error's code."""
    try:
        with remote_errors(blob, doing):
            yield
    except InputError as exc:  # the translation's remote-* errors are input errors, for the reading side
        raise RemoteWriteFailed(f"{exc.message} [{exc.code}]") from None


class PageBlobWriter:
    """One destination page blob; counts the requests and the request body bytes it sends (thread-safe)."""

    def __init__(self, url: BlobUrl, transport: Transport | None = None) -> None:
        self.url = url
        self.requests = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._transport = transport or credentials.TRANSPORT
        with writing_errors(url.display, "opening"):
            self._client = blob_client(url, self._count_request, self._transport)

    def _count_request(self, response: Any) -> None:
        body = response.http_request.body
        with self._lock:
            self.requests += 1
            self.bytes_sent += len(body) if isinstance(body, (bytes, bytearray, memoryview)) else 0

    def _call(self, doing: str, call: Callable[[], T]) -> T:
        with writing_errors(self.url.display, doing):
            return retry_throttled(call, self._transport)

    def state(self) -> BlobState:
        """The destination as it is now; nothing is written."""
        try:
            with remote_errors(self.url.display, "looking at the destination"):
                properties = retry_throttled(self._client.get_blob_properties, self._transport)
        except RemoteNotFound:
            return BlobState(exists=False)
        except InputError as exc:
            raise RemoteWriteFailed(f"{exc.message} [{exc.code}]") from None
        blob_type = str(getattr(properties.blob_type, "value", properties.blob_type))
        has_data = blob_type == "PageBlob" and self._call(
            "listing the destination's pages",
            lambda: any(not page.cleared for page in self._client.list_page_ranges()))
        return BlobState(True, blob_type, properties.size, has_data)

    def page_ranges(self) -> list[Range]:
        """The ranges of the blob that hold pages."""
        def listing() -> list[Range]:
            return [(page.start, page.end + 1 - page.start) for page in self._client.list_page_ranges()
                    if not page.cleared]
        return self._call("listing the destination's pages", listing)

    def create(self, size: int) -> None:
        """Create the page blob of ``size`` bytes, only if it is still absent (``If-None-Match: *``)."""
        with writing_errors(self.url.display, "creating the page blob"):
            try:
                retry_throttled(lambda: self._client.create_page_blob(size, match_condition=MatchConditions.IfMissing),
                                self._transport)
            except (ResourceExistsError, ResourceModifiedError):
                raise OutputExists(f"{self.url.display}: appeared while vhdfix prepared it; look at it, then repair "
                                   "again") from None

    def put(self, offset: int, data: bytes) -> None:
        """Put Page: ``data`` (512-aligned, at most 4 MiB) at ``offset``."""
        self._call(f"writing {len(data)} bytes at {offset}",
                   lambda: self._client.upload_page(data, offset=offset, length=len(data)))

    def clear(self, offset: int, length: int) -> None:
        """Clear Pages over ``[offset, offset + length)`` (512-aligned): they read as zeros and are no longer listed."""
        self._call(f"clearing {length} bytes at {offset}", lambda: self._client.clear_page(offset, length))

    def delete(self) -> None:
        self._call("deleting the blob", self._client.delete_blob)

    def close(self) -> None:
        self._client.close()
