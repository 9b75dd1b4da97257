"""A sample disk's Windows files copied out with vhdfix's own NTFS reader: a directory tree, or an Acquire-style tar."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Collection
from pathlib import Path

from vhdfix.inspection import inspect
from vhdfix.ntfs import NtfsVolume

MAX_FILE = 64 << 20


def _copy(volume: NtfsVolume, path: str, dest: Path, skip: Collection[str], depth: int = 0) -> int:
    copied = 0
    for entry in volume.list_dir(path):
        if depth == 0 and entry.path.startswith("$"):
            continue  # NTFS metafiles are not files of the Windows tree
        if entry.path.lower() in skip:
            continue
        where = dest.joinpath(*entry.path.split("\\"))
        if entry.is_dir:
            where.mkdir(parents=True, exist_ok=True)
            copied += _copy(volume, entry.path, dest, skip, depth + 1)
            continue
        found = volume.read_file(entry.path, MAX_FILE)
        assert found is not None and not found[1], entry.path
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(found[0])
        copied += 1
    return copied


def copy_windows_tree(disk: Path, dest: Path, skip: Collection[str] = ()) -> Path:
    """Every file of ``disk``'s Windows volume under ``dest`` (but the Windows-style paths in ``skip``)."""
    with inspect(disk, keep_open=True) as inspection:
        assert inspection.windows is not None, inspection.error
        dest.mkdir(parents=True, exist_ok=True)
        assert _copy(inspection.windows.ntfs, "", dest, {path.lower() for path in skip}) > 10
    return dest


def acquire_tar(tree: Path, archive: Path) -> Path:
    """``tree`` as an Acquire collection holds a system volume: ``fs/C:/<files>``."""
    with tarfile.open(archive, "w") as tar:
        tar.add(tree, arcname="fs/C:")
    return archive


def acquire_zip(tree: Path, archive: Path) -> Path:
    """``tree`` as a zip Acquire collection: ``fs/C:/<files>``."""
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                out.write(path, "fs/C:/" + path.relative_to(tree).as_posix())
    return archive
