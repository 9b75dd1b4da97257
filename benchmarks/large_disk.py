"""Builds the 127 GiB (virtual, sparse) Windows-like benchmark disks.

A GPT disk as Azure Gen2 VMs have it: ESP, MSR, a 126 GiB Windows NTFS
volume and a WinRE partition. The Windows volume is made with mkntfs and
populated through a temporary ntfs-3g mount (building only; vhdfix never
writes through ntfs-3g), then converted with qemu-img. Built once, cached in
benchmarks/out/. Needs: sfdisk, mkntfs, ntfs-3g, qemu-img, root for FUSE.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
GIB = 1024**3
MIB = 1024**2
DISK_SIZE = 127 * GIB

# (name, type GUID, size in MiB); the Windows partition takes the rest but for WinRE.
ESP = ("EFI system partition", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", 100)
MSR = ("Microsoft reserved partition", "E3C9E316-0B5C-4DB8-817D-F92DF00215AE", 16)
BASIC = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
WINRE = ("Windows RE", "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", 600)

Populate = Callable[[Path], None]


def _copy_sparse(source: Path, target: Path, offset: int) -> None:
    """Copy only the data extents of a sparse file into ``target`` at ``offset``."""
    with open(source, "rb") as src, open(target, "r+b") as dst:
        end = os.fstat(src.fileno()).st_size
        position = 0
        while position < end:
            try:
                start = os.lseek(src.fileno(), position, os.SEEK_DATA)
            except OSError:
                break
            stop = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            src.seek(start)
            dst.seek(offset + start)
            remaining = stop - start
            while remaining:
                chunk = src.read(min(remaining, 8 * MIB))
                dst.write(chunk)
                remaining -= len(chunk)
            position = stop


def _ntfs_volume(path: Path, size: int, label: str, populate: Populate | None) -> None:
    with open(path, "wb") as fh:
        fh.truncate(size)
    subprocess.run(["mkntfs", "-q", "-F", "-f", "-L", label, "-p", "0", "-H", "0", "-S", "0", str(path)],
                   check=True, stdout=subprocess.DEVNULL)
    if populate is None:
        return
    with tempfile.TemporaryDirectory() as mount:
        subprocess.run(["ntfs-3g", str(path), mount], check=True)
        try:
            populate(Path(mount))
        finally:
            subprocess.run(["umount", mount], check=True)


def build_raw(path: Path, populate: Populate, disk_size: int = DISK_SIZE) -> None:
    """A sparse raw GPT disk with a Windows volume populated by ``populate(mount_dir)``."""
    windows_mib = disk_size // MIB - 1 - ESP[2] - MSR[2] - WINRE[2] - 1
    layout = ["label: gpt", "unit: sectors", "first-lba: 2048"]
    start = 2048
    parts = [(ESP[0], ESP[1], ESP[2]), (MSR[0], MSR[1], MSR[2]), ("Basic data partition", BASIC, windows_mib),
             (WINRE[0], WINRE[1], WINRE[2])]
    offsets = []
    for name, type_guid, mib in parts:
        sectors = mib * MIB // 512
        layout.append(f'start={start}, size={sectors}, type={type_guid}, name="{name}"')
        offsets.append((start * 512, sectors * 512))
        start += sectors
    with open(path, "wb") as fh:
        fh.truncate(disk_size)
    subprocess.run(["sfdisk", "-q", str(path)], input="\n".join(layout) + "\n", text=True, check=True)
    with tempfile.TemporaryDirectory() as work:
        for index, label, populate_volume in ((2, "Windows", populate), (3, "Recovery", None)):
            offset, size = offsets[index]
            volume = Path(work) / f"p{index}.ntfs"
            _ntfs_volume(volume, size, label, populate_volume)
            _copy_sparse(volume, path, offset)
            volume.unlink()


def build_all(name: str, populate: Populate, disk_size: int = DISK_SIZE) -> dict[str, Path]:
    """``{raw, vhd, vhdx}`` paths of the benchmark disk ``name`` (``disk_size`` virtual), built if missing."""
    OUT.mkdir(exist_ok=True)
    raw, vhd, vhdx = OUT / f"{name}.raw", OUT / f"{name}.vhd", OUT / f"{name}.vhdx"
    if not raw.exists():
        partial = raw.with_suffix(".partial")
        build_raw(partial, populate, disk_size)
        partial.rename(raw)
    if not vhd.exists():
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic,force_size=on",
                        str(raw), str(vhd)], check=True)
    if not vhdx.exists():
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic",
                        str(raw), str(vhdx)], check=True)
    return {"raw": raw, "vhd": vhd, "vhdx": vhdx}
