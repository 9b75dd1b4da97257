"""Disks in Azure Storage, read by URL with ranged requests, and written into page blobs.

Below the disk layer: :func:`open_blob` gives an object with the interface of
:class:`vhdfix.disk.image_file.ImageFile`; :func:`open_page_writer` gives the
write side's SDK calls, for the copy engine's blob output. The Azure SDK (the
``vhdfix[azure]`` extra) is imported only when a URL is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vhdfix.errors import RemoteSupportMissing
from vhdfix.remote.url import BlobUrl, display_name, is_url, redact

if TYPE_CHECKING:
    from vhdfix.remote.blob_image import BlobImage
    from vhdfix.remote.page_writer import PageBlobWriter

__all__ = ["BlobUrl", "display_name", "is_url", "open_blob", "open_page_writer", "redact"]

INSTALL_HINT = "pip install 'vhdfix[azure]'"


@contextmanager
def _azure_sdk(url: BlobUrl, doing: str) -> Iterator[None]:
    """The Azure SDK is imported inside the block; without it, :class:`RemoteSupportMissing` says what to install."""
    try:
        yield
    except ImportError as exc:
        if not (exc.name or "").startswith("azure"):
            raise
        raise RemoteSupportMissing(f"{url.display}: {doing} a disk by URL needs the Azure SDK: {INSTALL_HINT}") \
            from None


def open_blob(url: BlobUrl) -> BlobImage:
    """Open the blob at ``url`` read-only; :class:`RemoteSupportMissing` without the Azure SDK."""
    with _azure_sdk(url, "reading"):
        from vhdfix.remote.blob_image import BlobImage
    return BlobImage(url)


def open_page_writer(url: BlobUrl) -> PageBlobWriter:
    """A writer of the page blob at ``url``; :class:`RemoteSupportMissing` without the Azure SDK."""
    with _azure_sdk(url, "writing"):
        from vhdfix.remote.page_writer import PageBlobWriter
    return PageBlobWriter(url)
