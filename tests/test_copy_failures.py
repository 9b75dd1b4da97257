"""A copy that fails leaves nothing behind: no OUT, no temporary file, whatever stops it.

Covered: an injected write error, a full disk (injected, and a real 1 MiB
tmpfs when the tests may mount one), a failing fsync, a rejecting check, and
Ctrl-C (SIGINT) delivered to a separate process in the middle of a copy.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO
from tests.test_copy_samples import PA
from vhdfix.copy import copy_disk
from vhdfix.copy.output import TEMP_MARK
from vhdfix.disk import Container, open_disk
from vhdfix.errors import OutputError, OutputFull, VerificationFailed

SOURCE = FIXTURES / f"{PA}.vhd"


def failing_after(calls: int, error: int, real: object) -> object:
    count = {"calls": 0}

    def fake(*args: object) -> int:
        count["calls"] += 1
        if count["calls"] > calls:
            raise OSError(error, os.strerror(error))
        return real(*args)  # type: ignore[operator]

    return fake


@pytest.fixture
def disk() -> Iterator[Container]:
    opened = open_disk(SOURCE)
    yield opened
    opened.close()


@pytest.mark.parametrize("fmt", ["raw", "vhd-dynamic", "vhdx"])
def test_disk_full_while_writing(fmt: str, disk: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "pwrite", failing_after(3, errno.ENOSPC, os.pwrite))
    with pytest.raises(OutputFull) as caught:
        copy_disk(disk, tmp_path / "out.img", fmt)
    assert caught.value.code == "output-full" and "no space left" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_write_error(disk: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "pwrite", failing_after(1, errno.EIO, os.pwrite))
    with pytest.raises(OutputError) as caught:
        copy_disk(disk, tmp_path / "out.vhd", "vhd-fixed")
    assert caught.value.code == "output-error"
    assert list(tmp_path.iterdir()) == []


def test_fsync_error(disk: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fsync", failing_after(0, errno.EIO, os.fsync))
    with pytest.raises(OutputError):
        copy_disk(disk, tmp_path / "out.vhdx", "vhdx")
    assert list(tmp_path.iterdir()) == []


def test_a_rejecting_check_removes_the_copy(disk: Container, tmp_path: Path) -> None:
    seen = []

    def check(path: Path) -> None:
        seen.append(path)
        assert path.exists() and path.parent == tmp_path and TEMP_MARK in path.name
        raise VerificationFailed("rejected by the test")

    with pytest.raises(VerificationFailed):
        copy_disk(disk, tmp_path / "out.vhd", check=check)
    assert len(seen) == 1 and list(tmp_path.iterdir()) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("fmt", ["raw", "vhdx"])
def test_real_full_disk(fmt: str, disk: Container, small_tmpfs: Path) -> None:
    with pytest.raises(OutputFull):
        copy_disk(disk, small_tmpfs / "out.img", fmt)
    assert list(small_tmpfs.iterdir()) == []


INTERRUPTED_COPY = r"""
import sys, time
from vhdfix.copy import copy_disk
from vhdfix.disk import Container, open_disk

def slow(progress):
    if not slow.started:
        slow.started = True
        print("started", flush=True)
    time.sleep(0.5)

slow.started = False
try:
    copy_disk(open_disk(sys.argv[1]), sys.argv[2], "vhdx", progress=slow)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def test_sigint_during_a_copy(tmp_path: Path) -> None:
    out = tmp_path / "out.vhdx"
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTED_COPY, str(SOURCE), str(out)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    assert [path.name for path in tmp_path.iterdir() if TEMP_MARK in path.name], "no temporary file while copying"
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130 and stdout.strip() == "interrupted", stdout + stderr
    assert list(tmp_path.iterdir()) == []
