"""Disks in Azure Storage, read by URL with ranged requests.

Below the disk layer: :func:`open_blob` gives an object with the interface of
:class:`vhdfix.disk.image_file.ImageFile`. The Azure SDK (the ``vhdfix[azure]``
extra) is imported only when a URL is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vhdfix.errors import RemoteSupportMissing
from vhdfix.remote.url import BlobUrl, display_name, is_url, redact

if TYPE_CHECKING:
    from vhdfix.remote.blob_image import BlobImage

__all__ = ["BlobUrl", "display_name", "is_url", "open_blob", "redact"]

INSTALL_HINT = "pip install 'vhdfix[azure]'"


def open_blob(url: BlobUrl) -> BlobImage:
    """Open the blob at ``url`` read-only; :class:`RemoteSupportMissing` without the Azure SDK."""
    try:
        from vhdfix.remote.blob_image import BlobImage
    except ImportError as exc:
        if not (exc.name or "").startswith("azure"):
            raise
        raise RemoteSupportMissing(f"{url.display}: reading a disk by URL needs the Azure SDK: {INSTALL_HINT}") \
            from None
    return BlobImage(url)
