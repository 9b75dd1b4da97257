"""A disk in Azure Storage (Azurite) inspects exactly as the same disk as a local file, downloading little."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, MANIFEST, REPO, unpack_to
from tests.support.azurite import Azurite
from tests.support.samples import PA, sample
from vhdfix.inspection import inspect

SCENARIOS = sorted(MANIFEST["scenarios"])
# Every scenario as the fixed VHD of an exported managed disk (a page blob); the provisioning-agent samples also in
# every container as block blobs.
PAGE_BLOBS = [f"{scenario}-gpt-vhd-fixed" for scenario in SCENARIOS] + [f"{PA}-mbr-vhd-fixed"]
BLOCK_BLOBS = [f"{PA}-{scheme}-{container}" for scheme in ("mbr", "gpt")
               for container in ("vhd-dynamic", "vhdx-dynamic", "vhd-fixed")]
# The issue 13 samples (one per signal family: the BCD on a FAT32 ESP, Setup.evtx, a Linux disk...) as block blobs.
SIGNAL_SAMPLES = {entry["scenario"]: entry["path"] for entry in MANIFEST["samples"]["files"]}
MAX_DOWNLOAD = 4 * 1024 * 1024  # issue 12's target for inspecting a disk by URL


def without_paths(result: dict[str, object]) -> dict[str, object]:
    """An inspect JSON without the disk's own name (its path, or its URL)."""
    disk = dict(result["disk"])  # type: ignore[arg-type]
    disk["path"] = None
    disk["chain"] = [{**link, "path": None} for link in disk.get("chain", [])]
    return {**result, "disk": disk}


def uploaded(azurite: Azurite, name: str, folder: Path, blob_type: str) -> tuple[Path, str]:
    local = sample(name, folder)
    blob = f"{blob_type}/{local.name}"
    if blob_type == "page":
        azurite.upload_page_blob(blob, local.read_bytes())
    else:
        azurite.upload_block_blob(blob, local.read_bytes())
    return local, azurite.sas_url(blob)


@pytest.mark.parametrize(("name", "blob_type"), [(name, "page") for name in PAGE_BLOBS] +
                         [(name, "block") for name in BLOCK_BLOBS])
def test_a_blob_inspects_as_the_local_file(azurite: Azurite, samples: Path, name: str, blob_type: str) -> None:
    local, url = uploaded(azurite, name, samples, blob_type)
    expected, found = inspect(local), inspect(url)
    assert found.error is None, found.error
    assert without_paths(found.to_json()) == without_paths(expected.to_json())
    assert found.to_json()["disk"]["path"] == url.split("?")[0]  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(SIGNAL_SAMPLES))
def test_each_signal_sample_inspects_by_url_as_the_local_file(azurite: Azurite, samples: Path, name: str) -> None:
    local = unpack_to(FIXTURES / SIGNAL_SAMPLES[name], samples)
    azurite.upload_block_blob(f"block/{local.name}", local.read_bytes())
    expected, found = inspect(local), inspect(azurite.sas_url(f"block/{local.name}"))
    assert found.error is None, found.error
    assert without_paths(found.to_json()) == without_paths(expected.to_json())


def test_a_page_blob_downloads_little(azurite: Azurite, samples: Path) -> None:
    local, url = uploaded(azurite, f"{PA}-gpt-vhd-fixed", samples, "page")
    with inspect(local, keep_open=True) as on_disk, inspect(url, keep_open=True) as by_url:
        assert by_url.error is None and by_url.article is not None
        image = by_url.disk.image  # type: ignore[union-attr]
        print(f"\n{local.name}: local bytes_read {on_disk.disk.bytes_read}; by URL bytes_downloaded "  # type: ignore
              f"{image.bytes_downloaded} in {image.requests} requests, {image.rounds} rounds")
        assert image.bytes_read == on_disk.disk.bytes_read  # type: ignore[union-attr]
        assert image.bytes_downloaded <= MAX_DOWNLOAD and image.requests <= 60
        # the page map is the allocation map: the copy engine would read only the blob's pages
        assert list(by_url.disk.allocated_ranges()) == list(image.data_extents(0, image.size - 512))  # type: ignore


def test_the_cli_inspects_a_url(azurite: Azurite, samples: Path) -> None:
    _, url = uploaded(azurite, f"{PA}-mbr-vhdx-dynamic", samples, "block")
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect", "--json", url], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["article"] == "OSStartUp-PROVISIONING_AGENT"
    assert json.loads(done.stdout)["disk"]["path"] == url.split("?")[0]


def test_a_connection_string_opens_a_url_without_sas(azurite: Azurite, samples: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = uploaded(azurite, f"{PA}-gpt-vhd-fixed", samples, "page")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    found = inspect(url.split("?")[0])
    assert found.error is None and found.article is not None and found.article.id == "OSStartUp-PROVISIONING_AGENT"
