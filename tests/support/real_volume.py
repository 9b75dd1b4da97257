"""The real Windows 10 disk of msuhanov/dfir_ntfs ``vss_1_vol`` made into a provisioning-agent case.

``vss_1_vol.tar.gz`` holds one 5 GiB raw disk (GPT: a Microsoft reserved partition and one NTFS volume that
Windows 10 made). Its ``test.txt`` (MFT record 36) carries an ``$OBJECT_ID`` that Windows gave it, listed in the
volume's Windows-made ``$Extend\\$ObjId:$O``. The volume holds no Windows installation, so the case is built on a
scratch copy (never on data under verification) through a read-write ntfs-3g mount:

* the Windows tree of the provisioning-agent sample disk (its hives, logs and Setup files, read with vhdfix) is
  copied in, except ``Windows\\OEM\\Unattend.wsf``;
* ``test.txt`` is moved to ``Windows\\OEM\\Unattend.wsf``: a rename keeps the record, its object id and the
  ``$O`` entry exactly as Windows wrote them, so the file the repair removes is a real Windows file with a real
  object id, where the provisioning agent leaves its script.

Everything is unpacked sparsely (the archive is 0.2 MB, the disk 5 GiB of mostly zeros).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import IO

from fixtures.disk_tools import ntfs_mounted
from tests.conftest import FIXTURES, require_tool
from vhdfix.disk import open_disk
from vhdfix.partitions import read_partition_table
from vhdfix.writer.context import open_context

ARCHIVE = "msuhanov+dfir_ntfs/test_data/vss_1_vol.tar.gz"
REAL_FILE = "test.txt"  # record 36, with the object id 4376aabb-0482-eb11-90f4-080027768df7
REAL_FILE_RECORD = 36
UNATTEND = "Windows\\OEM\\Unattend.wsf"
CHUNK = 1 << 20


def _copy_sparse(source: IO[bytes], target: IO[bytes], length: int) -> None:
    """``length`` bytes from file object ``source`` to ``target`` at their current positions, seeking over
    all-zero chunks so that the target stays sparse."""
    zero = bytes(CHUNK)
    while length:
        chunk = source.read(min(CHUNK, length))
        if not chunk:
            raise EOFError("the source ended early")
        length -= len(chunk)
        if chunk == zero[:len(chunk)]:
            target.seek(len(chunk), os.SEEK_CUR)
        else:
            target.write(chunk)


def unpack_disk(realdata: Path, folder: Path) -> Path:
    """The real disk, unpacked sparsely into ``folder``."""
    disk = folder / "vss_1_vol.raw"
    with tarfile.open(realdata / ARCHIVE) as archive:
        member = archive.next()
        assert member is not None and member.isfile(), "vss_1_vol.tar.gz holds no file"
        source = archive.extractfile(member)
        assert source is not None
        with disk.open("wb") as target:
            _copy_sparse(source, target, member.size)
            target.truncate()
    return disk


def _windows_tree(sample: Path) -> dict[str, bytes]:
    """Every file under ``Windows\\`` of a sample disk, read with vhdfix, by Windows path."""
    files: dict[str, bytes] = {}
    with open_context(sample) as context:
        ntfs = context.ntfs
        pending = ["Windows"]
        while pending:
            folder = pending.pop()
            for item in ntfs.list_dir(folder):
                if item.is_dir:
                    pending.append(item.path)
                else:
                    data, _ = ntfs.read_file(item.path, 1 << 30) or (b"", False)
                    files[item.path] = data
    return files


def _ntfs_partition(disk: Path) -> tuple[int, int]:
    """Offset and size of the disk's NTFS partition, from its GPT."""
    opened = open_disk(disk)
    try:
        (partition,) = [p for p in read_partition_table(opened).partitions if p.type_name == "Microsoft basic data"]
        return partition.offset, partition.size
    finally:
        opened.close()


def provisioning_agent_disk(realdata: Path, folder: Path) -> Path:
    """The real disk with the provisioning-agent case built into its NTFS volume (module docstring)."""
    require_tool("ntfs-3g")
    original = unpack_disk(realdata, folder)
    offset, size = _ntfs_partition(original)
    volume = ntfs_volume(original, folder, "scratch")
    tree = _windows_tree(FIXTURES / "provisioning-agent.vhd")
    with ntfs_mounted(volume) as root:
        for path, data in sorted(tree.items()):
            if path.lower() != UNATTEND.lower():
                host = root.joinpath(*path.split("\\"))
                host.parent.mkdir(parents=True, exist_ok=True)
                host.write_bytes(data)
        (root / "Windows" / "OEM").mkdir(parents=True, exist_ok=True)
        shutil.move(root / REAL_FILE, root.joinpath(*UNATTEND.split("\\")))
    disk = folder / "vss_1_vol-provisioning-agent.raw"
    total = original.stat().st_size
    with original.open("rb") as head_and_tail, volume.open("rb") as body, disk.open("wb") as target:
        _copy_sparse(head_and_tail, target, offset)
        _copy_sparse(body, target, size)
        head_and_tail.seek(offset + size)
        _copy_sparse(head_and_tail, target, total - offset - size)
        target.truncate()
    original.unlink()
    volume.unlink()
    return disk


def ntfs_volume(disk: Path, folder: Path, name: str) -> Path:
    """The NTFS partition of a raw disk as a sparse file of its own (for the ntfs-3g tools)."""
    offset, size = _ntfs_partition(disk)
    volume = folder / f"{name}.volume.raw"
    with disk.open("rb") as source, volume.open("wb") as target:
        source.seek(offset)
        _copy_sparse(source, target, size)
        target.truncate()
    return volume
