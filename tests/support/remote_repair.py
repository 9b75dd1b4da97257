"""What the remote repair tests share: write SAS URLs, a destination's pages, and the local→local reference repair."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from tests.support.azurite import ACCOUNT, CONTAINER, KEY, Azurite
from vhdfix import repair
from vhdfix.disk.vhd_format import FOOTER_SIZE


def write_sas_url(azurite: Azurite, name: str) -> str:
    """A SAS URL that reads, writes, creates and deletes the blob ``name``, as a direct-upload URL allows writes."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    token = generate_blob_sas(ACCOUNT, CONTAINER, name, account_key=KEY,
                              permission=BlobSasPermissions(read=True, write=True, create=True, delete=True),
                              expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    return f"{azurite.url(name)}?{token}"


def signature_forms(url: str) -> list[str]:
    """The SAS signature of ``url`` as it may be written: decoded, and percent-encoded."""
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    return [signature, quote(signature, safe="")]


def page_ranges(azurite: Azurite, name: str) -> list[tuple[int, int]]:
    return [(page.start, page.end + 1 - page.start) for page in azurite.blob(name).list_page_ranges()
            if not page.cleared]


def exists(azurite: Azurite, name: str) -> bool:
    return bool(azurite.blob(name).exists())


def blob_bytes(azurite: Azurite, name: str) -> bytes:
    return bytes(azurite.blob(name).download_blob().readall())


def reference_repair(disk: Path, folder: Path) -> bytes:
    """The local→local ``--format vhd-fixed`` repair of ``disk``: the repaired fixed VHD's data area (its footer, with
    a time stamp and a random id, left out)."""
    output = folder / f"reference-{disk.stem}.vhd"
    if not output.exists():
        result = repair(disk, output, format="vhd-fixed")
        assert result.exit_code == 0, result.message
    return output.read_bytes()[:-FOOTER_SIZE]
