"""A SAS signature never appears in anything vhdfix prints or logs, for a disk read or refused."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import REPO
from tests.support.azurite import Azurite
from tests.support.samples import PA, sample
from vhdfix.inspection import inspect


def signature_forms(url: str) -> list[str]:
    """The SAS signature of ``url`` as it may be written: decoded, and percent-encoded."""
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    return [signature, quote(signature, safe="")]


@pytest.fixture
def blob(azurite: Azurite, samples: Path) -> str:
    azurite.upload_page_blob("secret.vhd", sample(f"{PA}-gpt-vhd-fixed", samples).read_bytes())
    return "secret.vhd"


@pytest.mark.parametrize("expires_in", [timedelta(hours=1), timedelta(hours=-1)], ids=["valid", "expired"])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_the_cli_never_prints_the_signature(azurite: Azurite, blob: str, expires_in: timedelta,
                                            as_json: bool) -> None:
    url = azurite.sas_url(blob, expires_in)
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", *(["--json"] if as_json else []), url],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == (1 if expires_in > timedelta(0) else 3), done.stderr
    assert url.split("?")[0] in done.stdout
    for secret in signature_forms(url):
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize("expires_in", [timedelta(hours=1), timedelta(hours=-1)], ids=["valid", "expired"])
def test_the_logs_never_hold_the_signature(azurite: Azurite, blob: str, expires_in: timedelta,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = azurite.sas_url(blob, expires_in)
    result = inspect(url)
    assert (result.error is None) == (expires_in > timedelta(0))
    shown = caplog.text + json.dumps(result.to_json()) + repr(result.error) + str(result.error)
    assert "sig=REDACTED" in caplog.text  # urllib3 did log the request lines, scrubbed
    for secret in signature_forms(url):
        assert secret not in shown
