"""Which credentials open a blob, and the SDK client that uses them with bounded retries and timeouts.

In order: a SAS in the URL; else an account key or SAS from the connection string in
``AZURE_STORAGE_CONNECTION_STRING`` when it is for the URL's account; else Azure AD
sign-in through ``azure-identity``'s ``DefaultAzureCredential``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.storage.blob import BlobClient, ExponentialRetry

from vhdfix.errors import RemoteSupportMissing
from vhdfix.remote import INSTALL_HINT
from vhdfix.remote.failures import remote_errors
from vhdfix.remote.logs import guard_logs
from vhdfix.remote.url import BlobUrl, is_loopback

CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass(frozen=True)
class Transport:
    """Bounds on every wait: seconds to connect and per read, and the SDK's retries with exponential backoff."""

    connection_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    initial_backoff: float = 1.0  # then initial_backoff + backoff_base ** n seconds, with +-jitter
    backoff_base: float = 2.0
    jitter: float = 0.5

    def longest_wait(self) -> float:
        """The longest one call may take with every retry and backoff (the SDK's, inside vhdfix's retries of
        throttling): the bound of any wait on it."""
        backoffs = sum(self.initial_backoff + self.backoff_base ** n + self.jitter for n in range(self.retries))
        sdk_call = (self.connection_timeout + self.read_timeout) * (self.retries + 1) + backoffs
        return (sdk_call + self.initial_backoff + self.backoff_base ** self.retries) * (self.retries + 1)


TRANSPORT = Transport()


def account_name(url: BlobUrl) -> str:
    """The storage account: the first path component on a loopback or IP host (Azurite's style), else the host's
    first label."""
    if is_loopback(url.host) or url.host.replace(".", "").isdigit():
        return url.path.lstrip("/").split("/", 1)[0]
    return url.host.split(".", 1)[0]


def connection_string_credential(url: BlobUrl) -> dict[str, str] | str | None:
    """The account key or SAS of the environment's connection string, if it is for ``url``'s account."""
    fields = dict(part.split("=", 1) for part in os.environ.get(CONNECTION_STRING_VARIABLE, "").split(";")
                  if "=" in part)
    if fields.get("AccountName") not in (None, account_name(url)):
        return None
    if fields.get("AccountKey") and fields.get("AccountName"):
        return {"account_name": fields["AccountName"], "account_key": fields["AccountKey"]}
    return fields.get("SharedAccessSignature") or None


def credential_for(url: BlobUrl) -> Any:
    if url.has_sas:
        return None
    found = connection_string_credential(url)
    if found is not None:
        return found
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise RemoteSupportMissing(f"{url.display}: no SAS in the URL and no {CONNECTION_STRING_VARIABLE} for "
                                   f"its account; Azure AD sign-in needs azure-identity: {INSTALL_HINT}") from None
    return DefaultAzureCredential()


def blob_client(url: BlobUrl, on_response: Callable[[Any], None], transport: Transport | None = None) -> BlobClient:
    """A client for ``url`` whose every HTTP response is passed to ``on_response``."""
    transport = transport or TRANSPORT
    guard_logs()
    retry = ExponentialRetry(initial_backoff=transport.initial_backoff, increment_base=transport.backoff_base,
                             retry_total=transport.retries, random_jitter_range=transport.jitter)
    with remote_errors(url.display, "opening"):
        return BlobClient.from_blob_url(url.full, credential=credential_for(url), retry_policy=retry,
                                        connection_timeout=transport.connection_timeout,
                                        read_timeout=transport.read_timeout, logging_enable=False,
                                        raw_response_hook=on_response)
