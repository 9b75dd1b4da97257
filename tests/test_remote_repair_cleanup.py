"""A repair into a blob that fails, or is interrupted, leaves no usable half-disk: a blob it created is deleted, the
pages it wrote into a blob that was there are cleared, and the result says what was done.

Each failure happens at a known point, made by the real components: a plan that fails verification (read back
over HTTP), Ctrl-C after the first Put Page requests, SIGTERM to the command line while it is paused in the copy,
Azurite stopped before the last pages are sent.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.azurite import Azurite
from tests.support.paused_repair import start_paused
from tests.support.remote_repair import exists, page_ranges, signature_forms, write_sas_url
from tests.support.samples import PA, sample
from vhdfix import repair
from vhdfix.copy.blob_output import BlobOutput
from vhdfix.copy.vhd import fixed_size
from vhdfix.diagnosis import RemedyStep
from vhdfix.disk import open_disk
from vhdfix.disk.vhd_format import FOOTER_SIZE
from vhdfix.plan import BytePatch, PlanStep, WritePlan
from vhdfix.writer import WriteContext

SAMPLE = f"{PA}-gpt-vhd-fixed"


@pytest.fixture
def disk(samples: Path) -> Path:
    return sample(SAMPLE, samples)


def upload_target(azurite: Azurite, name: str, disk: Path) -> None:
    """An empty page blob of the repaired disk's size, as ``az disk create --for-upload`` makes it."""
    virtual_size = int.from_bytes(disk.read_bytes()[-FOOTER_SIZE:][48:56], "big")
    azurite.blob(name).create_page_blob(fixed_size(virtual_size) + FOOTER_SIZE)


def harmless(context: WriteContext, steps: Sequence[RemedyStep]) -> WritePlan:
    """A plan that rewrites a byte with itself: the copy is written in full, and fails verification."""
    old = context.disk.read(446 + 4, 1)
    patch = BytePatch(446 + 4, old, old, "rewrites a byte with itself")
    return WritePlan([PlanStep(step.id, step.text, step.documented, step.source, [patch]) for step in steps])


def test_a_created_blob_that_fails_verification_is_deleted(azurite: Azurite, disk: Path) -> None:
    result = repair(disk, write_sas_url(azurite, "unverified.vhd"), planner=harmless)
    assert (result.exit_code, result.error.code if result.error else None) == (4, "verification-failed")
    output = result.to_json()["output"]
    assert output["cleanup"] == "deleted" and output["blob"]["created"] is True and output["blob"]["put_requests"]
    assert result.next_steps == [] and not exists(azurite, "unverified.vhd")


def test_an_upload_target_that_fails_verification_has_its_pages_cleared(azurite: Azurite, disk: Path) -> None:
    upload_target(azurite, "unverified-target.vhd", disk)
    size = azurite.blob("unverified-target.vhd").get_blob_properties().size
    result = repair(disk, write_sas_url(azurite, "unverified-target.vhd"), planner=harmless)
    assert result.exit_code == 4 and result.to_json()["output"]["cleanup"] == "cleared"
    assert page_ranges(azurite, "unverified-target.vhd") == []
    assert azurite.blob("unverified-target.vhd").get_blob_properties().size == size


def interrupt_after(puts: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the copy, once ``puts`` Put Page requests were submitted."""
    real = BlobOutput._submit

    def submit(self: BlobOutput, offset: int, data: bytes) -> None:
        if self.puts >= puts:
            raise KeyboardInterrupt
        real(self, offset, data)

    monkeypatch.setattr(BlobOutput, "_submit", submit)


@pytest.mark.parametrize("existing", [False, True], ids=["created", "upload-target"])
def test_ctrl_c_undoes_what_was_written(azurite: Azurite, disk: Path, existing: bool,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"interrupted-{existing}.vhd"
    if existing:
        upload_target(azurite, name, disk)
    interrupt_after(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        repair(disk, write_sas_url(azurite, name))
    assert (page_ranges(azurite, name) == []) if existing else not exists(azurite, name)


def test_sigterm_during_the_upload_deletes_the_created_blob(azurite: Azurite, disk: Path) -> None:
    """The command line turns SIGTERM into an exception that unwinds the copy, while Put Page requests were sent."""
    url = write_sas_url(azurite, "terminated.vhd")
    child = start_paused("cli", "repair", disk, "--output", url, "--json", "--progress", "json")
    assert exists(azurite, "terminated.vhd")  # created, and Put Page requests submitted, before the pause
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGTERM and "terminated by SIGTERM" in stderr, stdout + stderr
    assert "Traceback" not in stderr and not exists(azurite, "terminated.vhd")
    for secret in signature_forms(url):
        assert secret not in stdout + stderr


def test_the_server_gone_while_writing_is_an_output_error_that_says_what_remains(
        own_azurite: Azurite, disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vhdfix.remote import credentials

    # short, still real, retries: connection refused is retried once after 0.1 s + 2 s of backoff
    monkeypatch.setattr(credentials, "TRANSPORT", credentials.Transport(
        connection_timeout=2.0, read_timeout=5.0, retries=1, initial_backoff=0.1, jitter=0.0))
    real = BlobOutput.sync

    def stop_then_sync(self: BlobOutput) -> Any:
        own_azurite.stop()  # the last buffered pages and the footer are still to be sent
        return real(self)

    monkeypatch.setattr(BlobOutput, "sync", stop_then_sync)
    url = write_sas_url(own_azurite, "gone.vhd")
    result = repair(disk, url)
    assert (result.exit_code, result.error.code if result.error else None) == (5, "remote-write-failed")
    assert "[remote-unreachable]" in result.message and "writing" in result.message
    cleanup = result.to_json()["output"]["cleanup"]
    assert cleanup.startswith("failed: [remote-write-failed]") and "deleting the blob" in cleanup
    for secret in signature_forms(url):
        assert secret not in str(result.to_json())


def test_a_destination_that_refuses_writes_is_an_output_error(azurite: Azurite, disk: Path) -> None:
    """A read-only SAS for the destination: creating the blob is refused (HTTP 403); nothing was made to undo."""
    url = azurite.sas_url("read-only.vhd")
    result = repair(disk, url)
    assert (result.exit_code, result.error.code if result.error else None) == (5, "remote-write-failed")
    assert "[remote-auth-failed]" in result.message and "creating the page blob" in result.message
    assert result.to_json()["output"]["cleanup"] == "none" and not exists(azurite, "read-only.vhd")
    for secret in signature_forms(url):
        assert secret not in str(result.to_json())


@pytest.mark.parametrize("place", ["file data", "footer"])
def test_a_page_changed_after_the_copy_is_caught_and_the_blob_deleted(azurite: Azurite, disk: Path,
                                                                      place: str) -> None:
    """The block-level proof reads the page blob back over HTTP: a byte changed in it between the copy and the
    verification (through the ``after_copy`` seam) fails the repair, and the blob is deleted."""
    virtual = open_disk(disk)
    size = fixed_size(virtual.virtual_size)
    at = virtual.read(0, virtual.virtual_size).index(b"TITLE SETUP COMPLETE") if place == "file data" else size + 8
    virtual.close()
    name = f"damaged-{place.replace(' ', '-')}.vhd"
    seen: list[str] = []

    def damage(url: str) -> None:
        seen.append(url)
        page = at - at % 512
        blob = azurite.blob(name)
        data = bytearray(blob.download_blob(offset=page, length=512).readall())
        data[at - page] ^= 0xFF
        blob.upload_page(bytes(data), offset=page, length=512)

    result = repair(disk, write_sas_url(azurite, name), after_copy=damage)
    assert len(seen) == 1
    assert (result.exit_code, result.error.code if result.error else None) == (4, "verification-failed")
    failed = {check.name for check in result.checks if check.passed is False}
    assert failed == ({"untouched-blocks"} if place == "file data" else {"reopen"}), result.to_json()["verification"]
    assert result.to_json()["output"]["cleanup"] == "deleted" and not exists(azurite, name)
