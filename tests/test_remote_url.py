"""Blob URLs: what is shown of them, which are refused, and a URL without the Azure SDK installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from vhdfix.errors import RemoteUrlInvalid
from vhdfix.inspection import inspect
from vhdfix.remote import BlobUrl, display_name, redact

SECRET = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
SAS_URL = f"https://acct.blob.core.windows.net/disks/os%20disk.vhd?sv=2024-01-01&sr=b&sp=r&sig={SECRET}"

WITHOUT_AZURE = """
import sys
sys.modules["azure"] = None  # as if the vhdfix[azure] extra were not installed
sys.argv = ["vhdfix", *sys.argv[1:]]
from vhdfix.cli import main
main()
"""


def test_a_url_is_shown_without_its_query_string() -> None:
    url = BlobUrl.parse(SAS_URL)
    assert url.display == str(url) == "https://acct.blob.core.windows.net/disks/os%20disk.vhd"
    assert SECRET not in repr(url) and (url.name, url.suffix, url.has_sas) == ("os disk.vhd", ".vhd", True)
    assert url.full == SAS_URL and display_name(SAS_URL) == url.display
    assert url.sibling("base.vhd").full.startswith("https://acct.blob.core.windows.net/disks/base.vhd?sv=")


def test_credentials_are_redacted_from_any_text() -> None:
    text = f"GET {SAS_URL} and AccountKey=abc/def==;EndpointSuffix=x SharedAccessSignature=sv=1&sig=zz"
    assert SECRET not in redact(text) and "abc/def" not in redact(text) and "sig=zz" not in redact(text)


@pytest.mark.parametrize("url", ["http://127.0.0.1:10000/devstoreaccount1/disks/a.vhd", "http://localhost/c/a.vhd",
                                 "http://[::1]:8080/c/a.vhd", "http://127.3.2.1/c/a.vhd"])
def test_plain_http_to_a_loopback_address_is_accepted(url: str) -> None:
    assert BlobUrl.parse(url).display == url


@pytest.mark.parametrize("url", [f"http://acct.blob.core.windows.net/disks/a.vhd?sig={SECRET}",
                                 f"http://10.0.0.4/disks/a.vhd?sig={SECRET}", "https://acct.blob.core.windows.net/",
                                 "https://:443/c/b"])
def test_plain_http_elsewhere_and_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(RemoteUrlInvalid) as refused:
        BlobUrl.parse(url)
    assert SECRET not in refused.value.message
    result = inspect(url)
    assert result.error is not None and result.error.code == "remote-url-invalid" and result.exit_code == 3
    assert SECRET not in json.dumps(result.to_json())


def test_the_cli_refuses_plain_http_as_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", "--json",
                           f"http://acct.blob.core.windows.net/disks/a.vhd?sig={SECRET}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "plain http" in done.stderr
    assert SECRET not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_url_without_the_azure_extra_says_what_to_install() -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_AZURE, "inspect", "--json", SAS_URL], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "remote-support-missing" and "pip install 'vhdfix[azure]'" in error["message"]
    assert SECRET not in done.stdout + done.stderr
