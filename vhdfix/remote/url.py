"""A blob URL: what may be shown of it, and what must never be.

The query string of a blob URL is usually a SAS token, a credential. It is kept
apart from the rest of the URL, and everything vhdfix prints names the blob by
:attr:`BlobUrl.display`, the URL without its query string or user information.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from vhdfix.errors import RemoteUrlInvalid

SCHEMES = ("https://", "http://")
# Values that are credentials wherever they appear: a SAS signature, an account key, a whole SAS in a connection string.
SECRET = re.compile(r"((?:sig|AccountKey|SharedAccessSignature)=)[^&\s\"';]+", re.IGNORECASE)


def is_url(value: object) -> bool:
    """True for a string that names a blob by URL rather than a local path."""
    return isinstance(value, str) and value.lower().startswith(SCHEMES)


def redact(text: str) -> str:
    """``text`` with every credential value replaced."""
    return SECRET.sub(r"\1REDACTED", text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BlobUrl:
    """A parsed blob URL. ``str()`` and ``repr()`` show only :attr:`display`."""

    scheme: str
    host: str
    port: int | None
    path: str  # percent-encoded, from the first "/"
    query: str = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> BlobUrl:
        """Parse ``url``; plain ``http`` is accepted only for a loopback host (a SAS would travel in clear)."""
        shown = redact(url.split("?", 1)[0])
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise RemoteUrlInvalid(f"{shown}: not a valid URL") from None
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme not in ("https", "http") or not host:
            raise RemoteUrlInvalid(f"{shown}: not an http(s) URL with a host")
        if scheme == "http" and not is_loopback(host):
            raise RemoteUrlInvalid(f"{shown}: plain http is accepted only for a loopback address; use https, "
                                   "or the credentials would cross the network in clear")
        if len([part for part in parts.path.split("/") if part]) < 2:
            raise RemoteUrlInvalid(f"{shown}: a blob URL names a container and a blob")
        return cls(scheme, host, port, parts.path, parts.query)

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}{self.path}"

    @property
    def full(self) -> str:
        """The URL with its query string: for the SDK only, never for display."""
        return f"{self.display}?{self.query}" if self.query else self.display

    @property
    def has_sas(self) -> bool:
        return "sig=" in self.query.lower()

    @property
    def name(self) -> str:
        """The blob's file name: the last component of its name."""
        return unquote(self.path.rstrip("/").rsplit("/", 1)[-1])

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    def sibling(self, name: str) -> BlobUrl:
        """The blob called ``name`` in the same container folder, reached with the same query string."""
        folder = self.path.rstrip("/").rsplit("/", 1)[0]
        return BlobUrl(self.scheme, self.host, self.port, f"{folder}/{quote(name)}", self.query)

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"BlobUrl({self.display!r})"


def display_name(location: object) -> str:
    """How a disk given by path or URL is named in output: a URL loses its query string."""
    if not (isinstance(location, str) and is_url(location)):
        return str(location)
    try:
        return BlobUrl.parse(location).display
    except RemoteUrlInvalid:
        return redact(location.split("?", 1)[0].split("#", 1)[0])
