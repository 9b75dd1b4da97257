"""A scratch volume whose ``$ObjId:$O`` spreads over INDX blocks and whose ``$Reparse:$R`` holds a few entries.

Built in a test's temporary directory from a copy of the writer's sample volume (mkntfs-made), through a
read-write ntfs-3g mount of that scratch copy (the object ids and reparse points are set with ntfs-3g's
``system.ntfs_object_id`` and ``system.ntfs_reparse_data`` attributes). The images under test are never mounted
read-write.

* ``side\\objNNN.txt`` (``OBJECT_FILES`` of them): each with an object id, enough for ``$O`` to need INDX blocks;
  ntfs-3g's ``rm`` of all but one file of one leaf leaves that leaf with a single entry;
* ``side\\linkN.txt`` (``LINKS``): relative symbolic links to ``side\\target.txt``, so ``$R`` keeps its entries
  in its root;
* ``side\\both.txt``: an object id and a reparse point.

:func:`build_reparse_volume` makes another with ``MANY_LINKS`` links, so that ``$R`` spreads over INDX blocks.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from fixtures.disk_tools import ntfs_mounted
from tests.conftest import require_tool
from tests.support.writer_support import copy_of, writer_cases
from vhdfix.ntfs.index_node import OBJECT_ID_INDEX, REPARSE_INDEX, IndexEntry, IndexKind
from vhdfix.writer.context import open_context
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.index_edit import NtfsIndex, read_index
from vhdfix.writer.volume_view import VolumeView

OBJECT_FILES = 120
LINKS = 4
MANY_LINKS = 60
OBJECT_ID_RECORD = "$Extend\\$ObjId"
REPARSE_RECORD = "$Extend\\$Reparse"
IO_REPARSE_TAG_SYMLINK = 0xA000000C
SYMLINK_RELATIVE = 1


def object_id(number: int) -> bytes:
    """A distinct, non-zero object id per file."""
    return struct.pack("<IIQ", 0x5EED0000 + number, number * 7919 + 1, 0x0123456789ABCDEF ^ number)


def symlink_reparse_data(target: str) -> bytes:
    """A REPARSE_DATA_BUFFER of a relative symbolic link (MS-FSCC 2.1.2.4): tag, data length, reserved, then the
    name offsets and lengths, flags and the path buffer (substitute name, then print name)."""
    name = target.encode("utf-16-le")
    body = struct.pack("<HHHHI", 0, len(name), len(name), len(name), SYMLINK_RELATIVE) + name + name
    return struct.pack("<IHH", IO_REPARSE_TAG_SYMLINK, len(body), 0) + body


@dataclass(frozen=True)
class SideIndexVolume:
    image: Path
    leaf_entry: str  # a file whose $O entry is in an INDX leaf that keeps other entries
    node_entry: str  # a file whose $O entry is a NODE entry
    last_entry: str  # a file whose $O entry is the only one left in its INDX leaf
    link: str  # a symbolic link: its $R entry is in the root
    both: str  # an object id and a reparse point


def read_side_index(image: Path, kind: IndexKind) -> NtfsIndex:
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        name = OBJECT_ID_RECORD if kind is OBJECT_ID_INDEX else REPARSE_RECORD
        record = context.ntfs.record(name)
        assert record is not None, name
        return read_index(view, record.segment, kind)


def _objects_by_leaf(image: Path) -> tuple[list[list[IndexEntry]], list[IndexEntry]]:
    index = read_side_index(image, OBJECT_ID_INDEX)
    leaves = [list(node.keyed_entries) for _, node in sorted(index.blocks.items()) if not node.has_children]
    nodes = [entry for node in index.nodes() if node.has_children for entry in node.keyed_entries]
    return leaves, nodes


def _directory_leaves(image: Path, directory: str) -> set[int]:
    """Records whose entries in ``directory``'s ``$I30`` are all leaf entries."""
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        record = context.ntfs.record(directory)
        assert record is not None, directory
        entries = read_directory_index(view, record.segment).entries()
    inner = {entry.record for node, entry in entries if entry.is_node or (node.has_children and node.vcn is not None)}
    return {entry.record for _, entry in entries} - inner


def _path_of(image: Path, record: int) -> str:
    with open_context(image) as context:
        for folder in ("side", "objid"):  # objid\\tagged.txt of the sample volume has an object id too
            for item in context.ntfs.list_dir(folder):
                if item.record == record:
                    return item.path
    raise AssertionError(f"record {record} is not in side or objid")


def build_side_index_volume(folder: Path) -> SideIndexVolume:
    require_tool("ntfs-3g")
    image = copy_of(writer_cases(folder), folder, "side-indexes.raw")
    with ntfs_mounted(image) as root:
        side = root / "side"
        side.mkdir()
        (side / "target.txt").write_bytes(b"the links' target\n")
        for number in range(OBJECT_FILES):
            path = side / f"obj{number:03d}.txt"
            path.write_bytes(b"file %d\n" % number)
            os.setxattr(path, "system.ntfs_object_id", object_id(number))
        for number in range(LINKS):
            path = side / f"link{number}.txt"
            path.write_bytes(b"")
            os.setxattr(path, "system.ntfs_reparse_data", symlink_reparse_data("target.txt"))
        both = side / "both.txt"
        both.write_bytes(b"")
        os.setxattr(both, "system.ntfs_object_id", object_id(OBJECT_FILES))
        os.setxattr(both, "system.ntfs_reparse_data", symlink_reparse_data("target.txt"))
    leaves, nodes = _objects_by_leaf(image)
    assert len(leaves) >= 3 and nodes, f"$O has {len(leaves)} leaves and {len(nodes)} node entries"
    lonely = leaves[0]
    with ntfs_mounted(image) as root:
        for entry in lonely[1:]:
            (root / _path_of(image, entry.record).replace("\\", "/")).unlink()
    leaves_after, _ = _objects_by_leaf(image)
    assert [[e.raw_key for e in leaf] for leaf in leaves_after].count([lonely[0].raw_key]) == 1
    reparse = read_side_index(image, REPARSE_INDEX)
    assert not reparse.blocks and len(reparse.root.node.keyed_entries) == LINKS + 1
    # Files whose directory entries are leaves, so that only their $O entry decides.
    plain = _directory_leaves(image, "side")
    leaf = next(entry for entry in leaves[1] if entry.record in plain)
    node = next(entry for entry in nodes if entry.record in plain)
    return SideIndexVolume(image, _path_of(image, leaf.record), _path_of(image, node.record),
                           _path_of(image, lonely[0].record), "side\\link1.txt", "side\\both.txt")


def build_reparse_volume(folder: Path) -> tuple[Path, str]:
    """A scratch volume whose ``$R`` has INDX blocks, and a link whose ``$R`` entry (and directory entry) is a leaf
    entry in a block that keeps other entries."""
    require_tool("ntfs-3g")
    image = copy_of(writer_cases(folder), folder, "reparse-points.raw")
    with ntfs_mounted(image) as root:
        side = root / "side"
        side.mkdir()
        (side / "target.txt").write_bytes(b"the links' target\n")
        for number in range(MANY_LINKS):
            path = side / f"link{number:02d}.txt"
            path.write_bytes(b"")
            os.setxattr(path, "system.ntfs_reparse_data", symlink_reparse_data("target.txt"))
    reparse = read_side_index(image, REPARSE_INDEX)
    plain = _directory_leaves(image, "side")
    leaf = next(entry for _, node in sorted(reparse.blocks.items()) if not node.has_children
                and len(node.keyed_entries) > 2 for entry in node.keyed_entries if entry.record in plain)
    return image, _path_of(image, leaf.record)
