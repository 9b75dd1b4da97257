"""A disk in Azure Storage that cannot be read, or changes while it is read, is refused with its own code.

Every failure is the real server's: a wrong key or an expired SAS (403), a missing blob (404), Azurite stopped after
the disk was opened, the blob rewritten after it was opened. Each happens at a known point: a step of the inspection
(vhdfix.inspection) first does it, then goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from tests.support.azurite import ACCOUNT, CONTAINER, Azurite
from tests.support.samples import PA, sample
from vhdfix import inspection
from vhdfix.cli import cli
from vhdfix.errors import RemoteChanged

WRONG_KEY = "d3Jvbmcga2V5IGZvciB0aGUgZGV2ZWxvcG1lbnQgYWNjb3VudCwgd3Jvbmcga2V5IQ=="


def cli_inspect(url: str) -> tuple[int, dict[str, Any], str]:
    """``vhdfix inspect --json URL`` in a child process: exit code, JSON, stderr."""
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", "--json", url], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def assert_refused(url: str, code: str) -> None:
    exit_code, payload, stderr = cli_inspect(url)
    assert (exit_code, payload["error"]["code"]) == (3, code), payload
    assert payload["disk"]["path"] == url.split("?")[0] and code in stderr


@pytest.fixture
def blob(azurite: Azurite, samples: Path) -> str:
    """The fixed-VHD provisioning-agent sample as a page blob: its name."""
    local = sample(f"{PA}-mbr-vhd-fixed", samples)
    azurite.upload_page_blob("failures.vhd", local.read_bytes())
    return "failures.vhd"


def test_a_missing_blob(azurite: Azurite, blob: str) -> None:
    assert_refused(azurite.sas_url("absent.vhd"), "remote-not-found")


def test_an_expired_sas(azurite: Azurite, blob: str) -> None:
    assert_refused(azurite.sas_url(blob, expires_in=timedelta(hours=-1)), "remote-auth-failed")


def test_a_sas_signed_with_a_wrong_key(azurite: Azurite, blob: str) -> None:

    from azure.storage.blob import BlobSasPermissions, generate_blob_sas
    token = generate_blob_sas(ACCOUNT, CONTAINER, blob, account_key=WRONG_KEY, permission=BlobSasPermissions(read=True),
                              expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    assert_refused(f"{azurite.url(blob)}?{token}", "remote-auth-failed")


def test_a_connection_string_with_a_wrong_key(azurite: Azurite, blob: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                       azurite.connection_string.replace("AccountKey=", f"AccountKey={WRONG_KEY}#"))
    found = inspection.inspect(azurite.url(blob))
    assert found.error is not None and found.error.code == "remote-auth-failed"


def before(step: str, action: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``action`` just before the inspection's ``step`` (a name in vhdfix.inspection), then the step."""
    real = getattr(inspection, step)

    def step_after_action(*args: Any, **kwargs: Any) -> Any:
        action()
        return real(*args, **kwargs)

    monkeypatch.setattr(inspection, step, step_after_action)


def run_cli(url: str) -> tuple[int, dict[str, Any]]:
    done = CliRunner().invoke(cli, ["inspect", "--json", url])
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, json.loads(done.stdout)


def test_the_server_stopped_after_the_disk_was_opened(own_azurite: Azurite, samples: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vhdfix.remote import credentials

    own_azurite.upload_page_blob("stopped.vhd", sample(f"{PA}-mbr-vhd-fixed", samples).read_bytes())
    # short, still real, retries: connection refused is retried once after 0.1 s + 2 s of backoff
    monkeypatch.setattr(credentials, "TRANSPORT", credentials.Transport(
        connection_timeout=2.0, read_timeout=5.0, retries=1, initial_backoff=0.1, jitter=0.0))
    before("find_windows_volume", own_azurite.stop, monkeypatch)
    exit_code, payload = run_cli(own_azurite.sas_url("stopped.vhd"))
    assert (exit_code, payload["error"]["code"]) == (3, "remote-unreachable"), payload
    assert "reading" in payload["error"]["message"]  # a ranged read found the server gone


def rewrite(azurite: Azurite, name: str, data: bytes) -> Callable[[], None]:
    return lambda: azurite.upload_page_blob(name, data)


def test_the_blob_rewritten_while_it_is_read(azurite: Azurite, samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sample(f"{PA}-mbr-vhd-fixed", samples).read_bytes()
    azurite.upload_page_blob("rewritten.vhd", data)
    before("find_windows_volume", rewrite(azurite, "rewritten.vhd", data), monkeypatch)
    exit_code, payload = run_cli(azurite.sas_url("rewritten.vhd"))
    assert (exit_code, payload["error"]["code"]) == (3, "remote-changed"), payload
    assert "HTTP 412" in payload["error"]["message"]  # the next ranged read's If-Match, before the end check


def test_the_blob_rewritten_after_everything_was_read(azurite: Azurite, samples: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No read is left to notice (If-Match): the check at the end of the inspection does."""
    data = sample(f"{PA}-mbr-vhd-fixed", samples).read_bytes()
    azurite.upload_page_blob("changed-late.vhd", data)
    before("diagnose", rewrite(azurite, "changed-late.vhd", data), monkeypatch)
    exit_code, payload = run_cli(azurite.sas_url("changed-late.vhd"))
    assert (exit_code, payload["error"]["code"]) == (3, "remote-changed"), payload
    assert "ETag differs" in payload["error"]["message"]


def test_check_unchanged_after_the_blob_changed(azurite: Azurite, samples: Path) -> None:
    from vhdfix.disk import open_disk

    data = sample(f"{PA}-mbr-vhd-fixed", samples).read_bytes()
    azurite.upload_page_blob("checked.vhd", data)
    disk = open_disk(azurite.sas_url("checked.vhd"))
    try:
        disk.check_unchanged()
        azurite.upload_page_blob("checked.vhd", data)
        with pytest.raises(RemoteChanged):
            disk.check_unchanged()
        with pytest.raises(RemoteChanged):  # the failure sticks: no read succeeds after it
            disk.read(1 << 20, 512)
    finally:
        disk.close()
