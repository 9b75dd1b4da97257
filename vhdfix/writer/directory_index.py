"""A directory's ``$I30`` index as the writer sees it: the root node and the INDX blocks in use.

Only blocks whose ``$BITMAP:$I30`` bit is set are read (dissect.ntfs reads
every block, library-notes.md §4.6). Blocks come through the
:class:`~vhdfix.writer.volume_view.VolumeView`, so changes planned earlier are
visible, and a torn block raises :class:`~vhdfix.ntfs.fixup.FixupError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.errors import AttributeList, CorruptVolume
from vhdfix.ntfs.extents import Extents
from vhdfix.ntfs.i30 import (
    I30,
    IndexEntry,
    IndexNode,
    IndexNodeError,
    IndexRoot,
    blocks_in_use,
    parse_block,
    parse_root,
    vcn_unit,
)
from vhdfix.ntfs.mft_record import Attribute, MftRecord
from vhdfix.writer.volume_view import Unit, VolumeView


@dataclass(frozen=True)
class DirectoryIndex:
    record: int
    sequence: int
    parsed: MftRecord
    root_attribute: Attribute
    root: IndexRoot
    allocation: Extents | None
    blocks: dict[int, IndexNode]  # VCN -> node, for the blocks in use

    def nodes(self) -> list[IndexNode]:
        return [self.root.node, *self.blocks.values()]

    def entries(self) -> list[tuple[IndexNode, IndexEntry]]:
        return [(node, entry) for node in self.nodes() for entry in node.keyed_entries]


def block_unit(view: VolumeView, index: DirectoryIndex, vcn: int) -> Unit:
    """The view's unit for INDX block ``vcn`` of ``index`` (already read by :func:`read_directory_index`)."""
    if index.allocation is None:
        raise CorruptVolume(f"{view.label}: directory record {index.record} has no INDX blocks")
    offset = vcn * vcn_unit(view.cluster_size, index.root.block_size)
    return view.index_block_unit(index.record, index.allocation, offset, index.root.block_size, vcn)


def _single(parsed: MftRecord, type_code: int, number: int, label: str) -> Attribute | None:
    found = parsed.find(type_code, I30)
    if len(found) > 1:
        raise CorruptVolume(f"{label}: directory record {number} has {len(found)} {type_code:#x} $I30 attributes")
    return found[0] if found else None


def read_directory_index(view: VolumeView, number: int) -> DirectoryIndex:
    """The index of directory record ``number``; refuses a directory spread over an attribute list."""
    record, parsed = view.record(number)
    label = view.label
    if not parsed.in_use or not parsed.is_directory:
        raise CorruptVolume(f"{label}: record {number} is not a directory in use")
    if parsed.find(ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST):
        raise AttributeList(f"{label}: directory record {number} keeps its attributes in an attribute list, "
                            "which vhdfix does not edit; remove the file from Windows instead")
    root_attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.INDEX_ROOT, number, label)
    if root_attribute is None or root_attribute.non_resident:
        raise CorruptVolume(f"{label}: directory record {number} has no resident $INDEX_ROOT:$I30")
    try:
        root = parse_root(root_attribute.value(record))
    except IndexNodeError as exc:
        raise CorruptVolume(f"{label}: $INDEX_ROOT of directory record {number}: {exc}") from None
    allocation_attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.INDEX_ALLOCATION, number, label)
    blocks: dict[int, IndexNode] = {}
    allocation = None
    if allocation_attribute is not None:
        if not allocation_attribute.non_resident:
            raise CorruptVolume(f"{label}: directory record {number} has a resident $INDEX_ALLOCATION")
        allocation = Extents(allocation_attribute.runs, view.cluster_size)
        bitmap = _bitmap(view, record, parsed, number)
        for vcn in blocks_in_use(bitmap, allocation_attribute.data_size, root.block_size, view.cluster_size):
            unit = view.index_block_unit(number, allocation, vcn * vcn_unit(view.cluster_size, root.block_size),
                                         root.block_size, vcn)
            try:
                blocks[vcn] = parse_block(unit.current, vcn)
            except IndexNodeError as exc:
                raise CorruptVolume(f"{label}: directory record {number}: {exc}") from None
    elif root.node.has_children:
        raise CorruptVolume(f"{label}: directory record {number} has a large index but no $INDEX_ALLOCATION")
    return DirectoryIndex(number, parsed.sequence_number, parsed, root_attribute, root, allocation, blocks)


def _bitmap(view: VolumeView, record: bytearray, parsed: MftRecord, number: int) -> bytes:
    attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.BITMAP, number, view.label)
    if attribute is None:
        raise CorruptVolume(f"{view.label}: directory record {number} has INDX blocks but no $BITMAP:$I30")
    if not attribute.non_resident:
        return attribute.value(record)
    extents = Extents(attribute.runs, view.cluster_size)
    return view.file_bytes(extents, 0, attribute.data_size, f"$BITMAP:$I30 of directory record {number}")
