"""``repair`` to and from blob URLs gives the local repair's disk, sends only allocated data, and keeps the SAS secret.

Every direction (URL→URL, URL→local file, local file→URL) is compared with the local→local ``--format vhd-fixed``
repair of the same sample: the repaired fixed VHD's data area must be byte-identical.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.azurite import Azurite
from tests.support.remote_repair import (
    blob_bytes,
    page_ranges,
    reference_repair,
    signature_forms,
    write_sas_url,
)
from tests.support.samples import PA, sample
from vhdfix import repair
from vhdfix.disk.vhd_format import FOOTER_SIZE

FIXED = f"{PA}-gpt-vhd-fixed"
DYNAMIC = f"{PA}-mbr-vhd-dynamic"
PAGE = 512
ZERO_PAGE = bytes(PAGE)


def assert_fixed_vhd_footer(data: bytes, virtual_size: int) -> None:
    footer = data[-FOOTER_SIZE:]
    assert footer.startswith(b"conectix") and int.from_bytes(footer[48:56], "big") == virtual_size
    assert int.from_bytes(footer[60:64], "big") == 2  # fixed


def test_url_to_url_sends_only_allocated_data_and_leaves_the_source_alone(azurite: Azurite, samples: Path,
                                                                          tmp_path: Path) -> None:
    local = sample(FIXED, samples)
    azurite.upload_page_blob("u2u-source.vhd", local.read_bytes())
    source_etag = azurite.blob("u2u-source.vhd").get_blob_properties().etag
    result = repair(write_sas_url(azurite, "u2u-source.vhd"), write_sas_url(azurite, "u2u-out.vhd"))
    assert result.exit_code == 0, result.message
    written = blob_bytes(azurite, "u2u-out.vhd")
    assert written[:-FOOTER_SIZE] == reference_repair(local, tmp_path)
    assert_fixed_vhd_footer(written, len(written) - FOOTER_SIZE)
    assert blob_bytes(azurite, "u2u-source.vhd") == local.read_bytes()
    assert azurite.blob("u2u-source.vhd").get_blob_properties().etag == source_etag

    blob = result.to_json()["output"]["blob"]
    allocated = sum(length for _, length in page_ranges(azurite, "u2u-source.vhd"))
    assert blob["found"] == "absent" and blob["created"] is True
    assert blob["bytes_sent"] <= 1.05 * allocated, (blob["bytes_sent"], allocated)
    assert allocated < len(written) / 3  # the sample is mostly zeros: a whole-disk upload would fail the bound
    non_zero_pages = sum(PAGE for at in range(0, len(written), PAGE) if written[at:at + PAGE] != ZERO_PAGE)
    assert sum(length for _, length in page_ranges(azurite, "u2u-out.vhd")) == non_zero_pages  # no zero page sent


def test_url_to_a_local_file(azurite: Azurite, samples: Path, tmp_path: Path) -> None:
    local = sample(DYNAMIC, samples)
    azurite.upload_block_blob("u2l-source.vhd", local.read_bytes())
    output = tmp_path / "out" / "repaired.vhd"
    output.parent.mkdir()
    result = repair(write_sas_url(azurite, "u2l-source.vhd"), output, format="vhd-fixed")
    assert result.exit_code == 0, result.message
    assert output.read_bytes()[:-FOOTER_SIZE] == reference_repair(local, tmp_path)
    assert result.to_json()["next_steps"] == [] and "cleanup" not in result.to_json()["output"]
    assert blob_bytes(azurite, "u2l-source.vhd") == local.read_bytes()


def test_a_local_file_to_url_with_the_cli(azurite: Azurite, samples: Path, tmp_path: Path) -> None:
    local = sample(DYNAMIC, samples)
    url = write_sas_url(azurite, "l2u-out.vhd")
    done = subprocess.run([sys.executable, "-m", "vhdfix", "repair", str(local), "--output", url, "--json",
                           "--progress", "json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    for secret in signature_forms(url):
        assert secret not in done.stdout + done.stderr
    payload = json.loads(done.stdout)
    assert payload["output"]["path"] == url.split("?")[0] and payload["output"]["cleanup"] == "none"
    assert payload["verification"]["passed"] is True
    assert [step.split(" -g")[0] for step in payload["next_steps"]] == [
        "az disk create", "az vm deallocate", "az vm update", "az vm start"]
    progress = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert progress[-1]["finished"] is True and progress[-1]["written"] == payload["output"]["bytes_written"]
    assert blob_bytes(azurite, "l2u-out.vhd")[:-FOOTER_SIZE] == reference_repair(local, tmp_path)


def test_the_text_report_ends_with_the_commands_and_keeps_the_sas_secret(azurite: Azurite, samples: Path) -> None:
    url = write_sas_url(azurite, "text-out.vhd")
    done = subprocess.run([sys.executable, "-m", "vhdfix", "repair", str(sample(FIXED, samples)), "--output", url],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].strip() == "az vm start -g <resource-group> -n <vm>"
    assert "az vm update -g <resource-group> -n <vm> --os-disk <disk>" in done.stdout
    for secret in signature_forms(url):
        assert secret not in done.stdout + done.stderr


def test_the_logs_never_hold_the_signature(azurite: Azurite, samples: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    azurite.upload_page_blob("logs-source.vhd", sample(FIXED, samples).read_bytes())
    source, output = write_sas_url(azurite, "logs-source.vhd"), write_sas_url(azurite, "logs-out.vhd")
    result = repair(source, output)
    assert result.exit_code == 0, result.message
    shown = caplog.text + json.dumps(result.to_json())
    assert "sig=REDACTED" in caplog.text
    for secret in signature_forms(source) + signature_forms(output):
        assert secret not in shown


def test_a_managed_disk_upload_url_is_finished_by_revoking_its_access() -> None:
    from vhdfix.remote import BlobUrl
    from vhdfix.repair import next_steps

    steps = next_steps(BlobUrl.parse("https://md-impexp-abc.z1.blob.storage.azure.net/xyz/abcd?sv=1&sig=secret"))
    assert steps[0] == "az disk revoke-access -g <resource-group> -n <disk>"
    assert "az vm update -g <resource-group> -n <vm> --os-disk <disk>" in steps
    assert not any("secret" in step for step in steps)
