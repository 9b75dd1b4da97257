"""A copy that fails leaves nothing behind: no OUT, no temporary file, whatever stops it.

Covered: an injected write error, a full disk (injected, and a real 1 MiB
tmpfs when the tests may mount one), a failing fsync, a rejecting check, and
Ctrl-C (SIGINT) delivered to a separate process in the middle of a copy. Each
runs twice: with the copy written as an unnamed file (Linux), and under a
temporary name (as elsewhere).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.support.paused_repair import start_paused
from tests.support.samples import PA
from vhdfix.copy import copy_disk, output
from vhdfix.copy.temporaries import TEMP_MARK
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


@pytest.fixture(autouse=True, params=[False, True], ids=["unnamed-file", "temporary-name"])
def named(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the copy is written under a temporary name, as on systems without unnamed files."""
    if request.param:
        monkeypatch.setattr(output, "O_TMPFILE", 0)
    elif not output.O_TMPFILE:
        pytest.skip("unnamed files (O_TMPFILE) are Linux-only")
    return bool(request.param)


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


def test_an_error_of_an_early_flush_fails_the_copy(disk: Container, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux reports a writeback error once per open file: the flush that met it must fail the copy, even though
    the final fsync succeeds."""
    flushed = []

    def failing_flush(fd: int) -> None:
        flushed.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(output, "WRITEBACK_INTERVAL", 1)  # a flush after the first write
    monkeypatch.setattr(output, "FLUSH", failing_flush)
    with pytest.raises(OutputError) as caught:
        copy_disk(disk, tmp_path / "out.raw", "raw")
    assert flushed and caught.value.code == "output-error" and "flushing the file to disk" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_the_copy_is_flushed_while_it_is_written(disk: Container, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    flushed = []
    monkeypatch.setattr(output, "WRITEBACK_INTERVAL", 1)
    monkeypatch.setattr(output, "FLUSH", lambda fd: flushed.append(fd))
    copy_disk(disk, tmp_path / "out.vhdx", "vhdx")
    assert flushed  # never two at once, so not necessarily once per write


def test_a_rejecting_check_removes_the_copy(disk: Container, tmp_path: Path, named: bool) -> None:
    seen = []

    def check(path: Path) -> None:
        seen.append(path)
        with path.open("rb") as copy:  # a new reader of the written copy
            copy.seek(-512, os.SEEK_END)
            assert copy.read(8) == b"conectix"
        visible = list(tmp_path.iterdir())
        assert visible == ([path] if named else []) and all(TEMP_MARK in entry.name for entry in visible)
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


def test_sigint_during_a_copy(tmp_path: Path, named: bool) -> None:
    """SIGINT reaches the repair while its copy is paused after writing data; the KeyboardInterrupt propagates out
    of the Python API (so Python ends on SIGINT) after the copy is removed."""
    child = start_paused("api", SOURCE, tmp_path / "out.vhdx", "vhdx", named=named)
    assert len(list(tmp_path.iterdir())) == named
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGINT and "KeyboardInterrupt" in stderr, stdout + stderr
    assert list(tmp_path.iterdir()) == []
