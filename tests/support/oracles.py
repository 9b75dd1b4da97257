"""The Debian tools the writer's oracle tests compare against: ntfs-3g, ntfsresize, ntfsfix, qemu-img, hivex.

Only oracle tests (``@pytest.mark.oracle``) use this module. Read-write ntfs-3g mounts are made only on
scratch copies that serve as the comparison side; the images under test are mounted read-only (a read-write
mount would rewrite ``$LogFile``, write-path.md §5.5).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from fixtures.disk_tools import ntfs_mounted
from tests.conftest import require_tool
from vhdfix.writer.context import open_context

QEMU_FORMATS = {".vhd": "vpc", ".vhdx": "vhdx", ".raw": "raw"}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, errors="replace", check=False,
                          env=dict(os.environ, LC_ALL="C"))


@contextlib.contextmanager
def ntfs3g(image: Path, read_only: bool = True) -> Iterator[Path]:
    """``image`` (a raw NTFS volume) mounted with ntfs-3g, as the fixture builder mounts it; read-write only to
    make a reference (an ntfs-3g ``rm`` to compare with), never to verify."""
    require_tool("ntfs-3g")
    with ntfs_mounted(image, read_only=read_only) as mountpoint:
        yield mountpoint


def windows_volume(disk: Path, folder: Path, name: str) -> Path:
    """The Windows NTFS volume of ``disk`` as a raw file, read by ``qemu-img convert`` (not by vhdfix)."""
    qemu = require_tool("qemu-img")
    raw = folder / f"{name}.disk.raw"
    result = run(qemu, "convert", "-f", QEMU_FORMATS[disk.suffix], "-O", "raw", disk, raw)
    assert result.returncode == 0, result.stderr
    with open_context(raw) as context:
        offset, size = context.partition.offset, context.partition.size
    volume = folder / f"{name}.volume.raw"
    with raw.open("rb") as source, volume.open("wb") as target:
        source.seek(offset)
        target.write(source.read(size))
    raw.unlink()
    return volume


def stat_walk(root: Path) -> dict[str, bytes]:
    """Every file's content under a mounted volume, after a stat of every entry (the ntfs-3g walk)."""
    contents: dict[str, bytes] = {}
    for folder, directories, files in os.walk(root):
        for name in directories + files:
            os.lstat(Path(folder) / name)
        for name in files:
            path = Path(folder) / name
            contents[str(path.relative_to(root))] = path.read_bytes()
    return contents


def ntfs_checks(volume: Path) -> None:
    """ntfsresize's cluster accounting and ntfsfix's checks, both read-only."""
    resize = run(require_tool("ntfsresize"), "-i", "-f", "-n", volume)
    assert resize.returncode == 0 and "accounting" not in resize.stdout + resize.stderr, resize.stdout + resize.stderr
    fix = run(require_tool("ntfsfix"), "-n", volume)
    assert fix.returncode == 0, fix.stdout + fix.stderr


def hivex_export(hive: Path, key: str = "\\") -> str:
    result = run(require_tool("hivexregedit"), "--export", "--unsafe-printable-strings", hive, key)
    assert result.returncode == 0, result.stderr
    return result.stdout
