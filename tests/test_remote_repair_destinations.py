"""What ``repair`` does with the blob it is told to write: an empty page blob of the right size (a managed disk's
upload URL) is written into, a missing one is created, anything else is a usage error that leaves it untouched,
unless ``--force`` overwrites a page blob of the right size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.azurite import Azurite
from tests.support.remote_repair import blob_bytes, exists, page_ranges, reference_repair, write_sas_url
from tests.support.samples import PA, sample
from vhdfix import repair
from vhdfix.copy.vhd import fixed_size
from vhdfix.disk.vhd_format import FOOTER_SIZE
from vhdfix.repair import RepairResult

SAMPLE = f"{PA}-gpt-vhd-fixed"


@pytest.fixture
def disk(samples: Path) -> Path:
    return sample(SAMPLE, samples)


def upload_size(disk: Path) -> int:
    """The size ``az disk create --for-upload --upload-size-bytes`` must be given for the repaired ``disk``."""
    virtual_size = int.from_bytes(disk.read_bytes()[-FOOTER_SIZE:][48:56], "big")
    return fixed_size(virtual_size) + FOOTER_SIZE


def failed_with(result: RepairResult, exit_code: int, code: str) -> None:
    assert (result.exit_code, result.error.code if result.error else None) == (exit_code, code), result.message


def test_an_empty_page_blob_of_the_right_size_is_written_into(azurite: Azurite, disk: Path, tmp_path: Path) -> None:
    azurite.blob("upload.vhd").create_page_blob(upload_size(disk))
    result = repair(disk, write_sas_url(azurite, "upload.vhd"))
    assert result.exit_code == 0, result.message
    blob = result.to_json()["output"]["blob"]
    assert (blob["found"], blob["created"]) == ("empty page blob", False)
    assert blob_bytes(azurite, "upload.vhd")[:-FOOTER_SIZE] == reference_repair(disk, tmp_path)


def test_a_missing_blob_is_created(azurite: Azurite, disk: Path) -> None:
    result = repair(disk, write_sas_url(azurite, "created.vhd"))
    assert result.exit_code == 0, result.message
    assert azurite.blob("created.vhd").get_blob_properties().size == upload_size(disk)


@pytest.mark.parametrize(("delta", "code"), [(-1024 * 1024, "remote-too-small"), (512, "remote-size-mismatch")])
def test_a_page_blob_of_another_size_is_refused_even_with_force(azurite: Azurite, disk: Path, delta: int,
                                                                 code: str) -> None:
    name = f"size{delta}.vhd"
    azurite.blob(name).create_page_blob(upload_size(disk) + delta)
    etag = azurite.blob(name).get_blob_properties().etag
    for force in (False, True):
        failed_with(repair(disk, write_sas_url(azurite, name), force=force), 2, code)
    assert azurite.blob(name).get_blob_properties().etag == etag and page_ranges(azurite, name) == []


def test_a_block_blob_is_refused_even_with_force(azurite: Azurite, disk: Path) -> None:
    azurite.upload_block_blob("block.vhd", b"not a disk")
    for force in (False, True):
        failed_with(repair(disk, write_sas_url(azurite, "block.vhd"), force=force), 2, "output-exists")
    assert blob_bytes(azurite, "block.vhd") == b"not a disk"


def test_a_page_blob_with_data_needs_force_and_is_then_overwritten(azurite: Azurite, disk: Path,
                                                                    tmp_path: Path) -> None:
    size, reference = upload_size(disk), reference_repair(disk, tmp_path)
    client = azurite.blob("used.vhd")
    client.create_page_blob(size)
    zero = next(at for at in range(size // 2 // 8192 * 8192, size, 8192) if not any(reference[at:at + 8192]))
    stale = [(zero, 8192), (size - FOOTER_SIZE, FOOTER_SIZE)]  # pages the repaired disk leaves zero, and its footer
    for offset, length in stale:
        client.upload_page(b"\xa5" * length, offset=offset, length=length)
    etag = client.get_blob_properties().etag
    failed_with(repair(disk, write_sas_url(azurite, "used.vhd")), 2, "output-exists")
    assert client.get_blob_properties().etag == etag

    result = repair(disk, write_sas_url(azurite, "used.vhd"), force=True)
    assert result.exit_code == 0, result.message
    assert result.to_json()["output"]["blob"]["found"] == "page blob with data"
    assert blob_bytes(azurite, "used.vhd")[:-FOOTER_SIZE] == reference


def test_a_dry_run_looks_at_the_destination_and_writes_nothing(azurite: Azurite, disk: Path) -> None:
    assert repair(disk, write_sas_url(azurite, "dry.vhd"), dry_run=True).exit_code == 0
    assert not exists(azurite, "dry.vhd")
    azurite.blob("dry-small.vhd").create_page_blob(512)
    failed_with(repair(disk, write_sas_url(azurite, "dry-small.vhd"), dry_run=True), 2, "remote-too-small")


def test_the_input_blob_is_never_the_output(azurite: Azurite, disk: Path) -> None:
    azurite.upload_page_blob("self.vhd", disk.read_bytes())
    url = write_sas_url(azurite, "self.vhd")
    failed_with(repair(url, url, force=True), 2, "output-is-input")
    assert blob_bytes(azurite, "self.vhd") == disk.read_bytes()


def test_a_url_output_is_a_fixed_vhd(azurite: Azurite, disk: Path) -> None:
    failed_with(repair(disk, write_sas_url(azurite, "vhdx.vhd"), format="vhdx"), 2, "format-not-available")
    assert not exists(azurite, "vhdx.vhd")
    assert repair(disk, write_sas_url(azurite, "fixed.vhd"), format="vhd-fixed").exit_code == 0
