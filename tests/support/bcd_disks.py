"""Disks with a real BCD and real hives: Gen1 (MBR, System Reserved NTFS) and Gen2 (GPT, FAT32 ESP).

The BCD is regipy's real BCD with a ``safeboot`` element (``25000080``,
Minimal) added to its default loader by ``hivexregedit --merge``; the Windows
volume carries the real Windows 10 SYSTEM hive of dissect.regf. Built with
mkntfs/ntfs-3g, mkfs.fat/mtools and sfdisk into raw disks in a test's folder.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fixtures.disk_tools import VolumeFile, build_ntfs, copy_into, write_partition_table
from tests.conftest import read_realdata, require_tool
from vhdfix.registry import open_hive

BCD = "mkorman90+regipy/regipy_tests/data/BCD.xz"
SYSTEM = "fox-it+dissect.regf/tests/_data/SYSTEM.gz"
BOOT_MANAGER = "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
MIB = 1024 * 1024


def default_loader(bcd: bytes) -> str:
    value = open_hive("BCD", bcd).value(f"Objects\\{BOOT_MANAGER}\\Elements\\23000003", "Element")
    assert value is not None and isinstance(value.value, str)
    return value.value


def safeboot_bcd(folder: Path) -> bytes:
    """The real BCD, with ``bcdedit /set {default} safeboot minimal`` made by hivex."""
    original = read_realdata(BCD)
    hive = folder / "BCD-safeboot"
    hive.write_bytes(original)
    script = folder / "safeboot.reg"
    script.write_text("Windows Registry Editor Version 5.00\r\n\r\n"
                      f"[HKEY_LOCAL_MACHINE\\BCD\\Objects\\{default_loader(original)}\\Elements\\25000080]\r\n"
                      '"Element"=hex:00,00,00,00,00,00,00,00\r\n\r\n')
    result = subprocess.run([require_tool("hivexregedit"), "--merge", "--prefix", "HKEY_LOCAL_MACHINE\\BCD", hive,
                             script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return hive.read_bytes()


def _windows_volume(folder: Path, start_sector: int, hives: dict[str, bytes] | None = None) -> Path:
    """The Windows volume: ``hives`` by name in ``config`` (default: the real SYSTEM hive alone)."""
    image = folder / "windows.ntfs"
    build_ntfs(image, 48 * MIB, start_sector, "Windows", 0x1234,
               [VolumeFile(f"Windows\\System32\\config\\{name}", data)
                for name, data in (hives or {"SYSTEM": read_realdata(SYSTEM)}).items()])
    return image


def _blank(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def gen1_disk(folder: Path, bcd: bytes, logs: dict[str, bytes] | None = None,
              hives: dict[str, bytes] | None = None) -> Path:
    """MBR: System Reserved NTFS (16 MiB, ``Boot\\BCD`` and its logs) at 1 MiB, then the Windows volume."""
    reserved = folder / "reserved.ntfs"
    files = [VolumeFile("Boot\\BCD", bcd)]
    files += [VolumeFile(f"Boot\\BCD{suffix}", data) for suffix, data in (logs or {".LOG1": b"", ".LOG2": b""}).items()]
    build_ntfs(reserved, 16 * MIB, 2048, "System Reserved", 0x5678, files)
    windows = _windows_volume(folder, 2048 + 16 * 2048, hives)
    disk = _blank(folder / "gen1.raw", 66 * MIB)
    write_partition_table(disk, "label: dos\nstart=2048, size=32768, type=7, bootable\nstart=34816, size=98304, "
                                "type=7\n")
    copy_into(disk, reserved, MIB)
    copy_into(disk, windows, 17 * MIB)
    return disk


def gen2_disk(folder: Path, bcd: bytes, logs: dict[str, bytes] | None = None) -> Path:
    """GPT: a FAT32 ESP (40 MiB, ``EFI\\Microsoft\\Boot\\BCD``) at 1 MiB, then the Windows volume."""
    esp = _blank(folder / "esp.fat", 40 * MIB)
    subprocess.run([require_tool("mkfs.fat"), "-F", "32", "-s", "1", "-S", "512", "--invariant", "-h", "2048",
                    esp], capture_output=True, check=True)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    for directory in ("EFI", "EFI/Microsoft", "EFI/Microsoft/Boot"):
        subprocess.run(["mmd", "-i", esp, f"::/{directory}"], env=env, capture_output=True, check=True)
    for name, data in (("BCD", bcd), *((f"BCD{suffix}", log) for suffix, log in
                                        (logs or {".LOG1": b"", ".LOG2": b""}).items())):
        source = folder / f"esp-{name}"
        source.write_bytes(data)
        subprocess.run(["mcopy", "-i", esp, source, f"::/EFI/Microsoft/Boot/{name}"], env=env, capture_output=True,
                       check=True)
    windows = _windows_volume(folder, 2048 + 40 * 2048)
    disk = _blank(folder / "gen2.raw", 92 * MIB)
    write_partition_table(disk, "label: gpt\nstart=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
                                "start=83968, size=98304, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n")
    copy_into(disk, esp, MIB)
    copy_into(disk, windows, 41 * MIB)
    return disk
