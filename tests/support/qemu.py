"""qemu-img / qemu-io as oracles: build images, convert them to raw, compare a reader with the raw bytes."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import require_tool

CHUNK = 32 << 20
QEMU_FORMAT = {"vhd": "vpc", "vhdx": "vhdx", "raw": "raw"}  # qemu's name of each of vhdfix's formats


def qemu_img(*args: str | Path) -> str:
    done = subprocess.run([require_tool("qemu-img"), *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"qemu-img {' '.join(map(str, args))}: {done.stdout}{done.stderr}"
    return done.stdout


def qemu_check(path: Path, fmt: str) -> None:
    """``qemu-img check``; qemu has a checker for VHDX only and says so for the others (exit 63)."""
    done = subprocess.run([require_tool("qemu-img"), "check", "-f", fmt, str(path)], capture_output=True, text=True,
                          timeout=120)
    if done.returncode == 63:
        assert "does not support checks" in done.stderr and fmt in ("vpc", "raw")
        return
    assert done.returncode == 0 and "No errors were found" in done.stdout, done.stdout + done.stderr


def qemu_io(image: Path, *commands: str, image_format: str = "vhdx") -> None:
    args = [require_tool("qemu-io"), "-f", image_format]
    for command in commands:
        args += ["-c", command]
    done = subprocess.run([*args, str(image)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "error" not in done.stdout.lower(), done.stdout + done.stderr


def to_raw(image: Path, raw: Path, image_format: str) -> Path:
    """qemu's view of ``image`` as a (sparse) raw file. Fixed VHDs need ``-f vpc``: qemu probes them as raw."""
    qemu_img("convert", "-f", image_format, "-O", "raw", image, raw)
    return raw


def mismatched_chunks(read: Callable[[int, int], bytes], size: int, raw: Path) -> list[int]:
    """Offsets of the CHUNK-sized pieces where ``read`` differs from ``raw``; every byte is compared.

    Holes in the raw file (found with SEEK_DATA) are compared with zeros without reading them.
    """
    zeros = bytes(CHUNK)
    bad = []
    with open(raw, "rb") as f:
        fd = f.fileno()
        if os.fstat(fd).st_size != size:
            return [-1]
        for offset in range(0, size, CHUNK):
            length = min(CHUNK, size - offset)
            try:
                hole = os.lseek(fd, offset, os.SEEK_DATA) >= offset + length
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                hole = True
            expected = zeros[:length] if hole else os.pread(fd, length, offset)
            if read(offset, length) != expected:
                bad.append(offset)
    return bad
