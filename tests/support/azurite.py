"""Azurite, Microsoft's Azure Storage server, run on a free loopback port for the remote tests.

``.ci/run`` installs the pinned version with npm and exports ``VHDFIX_AZURITE``, the path of its
``azurite-blob``. Without it the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "devstoreaccount1"
# Azurite's published development key (its README); it opens nothing but a local Azurite.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "disks"
STARTUP_SECONDS = 30.0
PAGE = 512
UPLOAD_CHUNK = 4 * 1024 * 1024  # the most one Put Page may write


def azurite_binary() -> str:
    found = os.environ.get("VHDFIX_AZURITE") or shutil.which("azurite-blob")
    if found and Path(found).exists():
        return found
    if os.environ.get("CI"):
        pytest.fail("azurite is not installed; .ci/run must install it and export VHDFIX_AZURITE")
    pytest.skip("azurite is not installed (set VHDFIX_AZURITE to its azurite-blob)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upload_nonzero_pages(client: Any, chunk: bytes, offset: int) -> int:
    """Put the non-zero 512-byte pages of ``chunk`` (at most 4 MiB) at ``offset`` of a page blob; the bytes sent."""
    sent = 0
    run: int | None = None
    for page in range(0, len(chunk) + PAGE, PAGE):
        zero = page >= len(chunk) or not any(chunk[page:page + PAGE])
        if not zero and run is None:
            run = page
        elif zero and run is not None:
            client.upload_page(chunk[run:page], offset=offset + run, length=page - run)
            sent += page - run
            run = None
    return sent


class Azurite:
    """One Azurite blob server with its data in ``folder``; :meth:`stop` ends it and waits for it."""

    def __init__(self, folder: Path) -> None:
        pytest.importorskip("azure.storage.blob")
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._log = open(folder / "azurite.log", "wb")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [azurite_binary(), "--location", str(folder / "data"), "--blobHost", "127.0.0.1", "--blobPort",
             str(self.port), "--loose", "--skipApiVersionCheck", "--disableTelemetry"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._accepts():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"azurite did not start: {(folder / 'azurite.log').read_text(errors='replace')}")
            time.sleep(0.05)
        self.service().create_container(CONTAINER)

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={self.endpoint};"

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def blob(self, name: str) -> Any:
        return self.service().get_blob_client(CONTAINER, name)

    def url(self, name: str) -> str:
        """The blob's URL without credentials."""
        return f"{self.endpoint}/{CONTAINER}/{name}"

    def sas_url(self, name: str, expires_in: timedelta = timedelta(hours=1)) -> str:
        """A read-only SAS URL, expired already when ``expires_in`` is negative."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        token = generate_blob_sas(ACCOUNT, CONTAINER, name, account_key=KEY,
                                  permission=BlobSasPermissions(read=True),
                                  expiry=datetime.now(timezone.utc) + expires_in)
        return f"{self.url(name)}?{token}"

    def upload_page_blob(self, name: str, data: bytes) -> None:
        """``data`` (a multiple of 512 bytes) as a page blob; only its non-zero pages are sent."""
        client = self.blob(name)
        client.create_page_blob(len(data))
        for start in range(0, len(data), UPLOAD_CHUNK):
            upload_nonzero_pages(client, data[start:start + UPLOAD_CHUNK], start)

    def upload_block_blob(self, name: str, data: bytes) -> None:
        self.blob(name).upload_blob(data, blob_type="BlockBlob", overwrite=True)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
