"""The one translation of Azure SDK exceptions into vhdfix errors.

The SDK's exception text can quote request URLs and server replies, so no part
of it is kept: a message is built from the blob's display URL, the HTTP status
and the service's error code (``AuthenticationFailed``, ``BlobNotFound``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from vhdfix.errors import (
    InputUnreadable,
    RemoteAuthFailed,
    RemoteChanged,
    RemoteNotFound,
    RemoteThrottled,
    RemoteUnreachable,
    VhdfixError,
)

THROTTLED = (429, 503)


def translate(exc: Exception, blob: str, doing: str) -> VhdfixError:
    """The vhdfix error for ``exc``, raised by the SDK while ``doing`` something with ``blob`` (a display URL)."""
    status = getattr(exc, "status_code", None)
    service_code = getattr(exc, "error_code", None)
    service_code = getattr(service_code, "value", service_code)  # the SDK's StorageErrorCode enum, or a string
    detail = f"HTTP {status}" + (f" {service_code}" if service_code else "") if status else ""
    where = f"{blob}: {doing}"
    if isinstance(exc, ResourceModifiedError) or status == 412:
        return RemoteChanged(f"{where}: the blob changed after vhdfix opened it ({detail or 'ETag differs'}); "
                             "inspect it again")
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return RemoteNotFound(f"{where}: no such blob or container ({detail or 'not found'})")
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return RemoteAuthFailed(f"{where}: access refused ({detail or 'no usable credentials'}); check that the "
                                "SAS is valid and not expired, the key, or the sign-in")
    if status in THROTTLED:
        return RemoteThrottled(f"{where}: the server is busy ({detail}) and stayed busy through the retries")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, OSError)) or \
            (status is None and isinstance(exc, AzureError)):
        return RemoteUnreachable(f"{where}: no answer from {blob.split('/')[2]} (connection failed, reset or "
                                 f"timed out: {type(exc).__name__}) after the retries")
    if isinstance(exc, HttpResponseError):
        return InputUnreadable(f"{where}: the server answered {detail}")
    return InputUnreadable(f"{where}: {type(exc).__name__}")


@contextmanager
def remote_errors(blob: str, doing: str) -> Iterator[None]:
    """Translate whatever the SDK (or the HTTP stack under it) raises in the block; only our errors pass."""
    try:
        yield
    except VhdfixError:
        raise
    except Exception as exc:
        raise translate(exc, blob, doing) from None
