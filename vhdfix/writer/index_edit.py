"""Any NTFS index the delete edits, as the writer sees it, and removing a file's leaf entries from it.

One piece of code serves the three indexes a file removal changes
(:mod:`vhdfix.ntfs.index_node` has their entry layouts): a directory's
``$I30``, ``$Extend\\$ObjId:$O`` and ``$Extend\\$Reparse:$R``. Only INDX blocks
whose ``$BITMAP`` bit is set are read (dissect.ntfs reads every block,
library-notes.md §4.6); blocks are read in bitmap order, never by following
child pointers, so a crafted tree cannot loop, and the block size, allocation
and bitmap sizes are checked before anything is read. Blocks come through the
:class:`~vhdfix.writer.volume_view.VolumeView`, so changes planned earlier are
visible, and a torn block raises :class:`~vhdfix.ntfs.fixup.FixupError`.

Removal is write-path.md §4.2: an entry of the resident root is moved out and
the root attribute shrinks (case A, allowed even for the root's last entry); an
entry of an INDX block that keeps at least one entry is moved out of the block
(case B). NODE entries (case D) and the last entry of a block (case C) need
the B+ tree rebalanced and are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.errors import AttributeList, CorruptVolume, IndexLastEntry, IndexNodeEntry, RefusedUnsafe
from vhdfix.ntfs.extents import Extents
from vhdfix.ntfs.index_node import (
    IndexEntry,
    IndexKind,
    IndexNode,
    IndexNodeError,
    IndexRoot,
    blocks_in_use,
    parse_block,
    parse_root,
    remove_from_block,
    remove_from_root_value,
    valid_block_size,
    vcn_unit,
)
from vhdfix.ntfs.mft_record import Attribute, MftRecord
from vhdfix.ntfs.record_edit import resize_resident_value
from vhdfix.writer.volume_view import Unit, VolumeView

# The blocks of an index are held in memory while the plan is made. Real indexes are far smaller (System32's
# $I30: about 1 MiB; the $O of a volume: a few blocks); a crafted bitmap could claim the whole volume.
MAX_INDEX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class NtfsIndex:
    """One index (``kind``) of MFT record ``record``: its root and its INDX blocks in use."""

    kind: IndexKind
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

    def describe(self) -> str:
        return f"the {self.kind.label} (MFT record {self.record})"


def block_unit(view: VolumeView, index: NtfsIndex, vcn: int) -> Unit:
    """The view's unit for INDX block ``vcn`` of ``index`` (already read by :func:`read_index`)."""
    if index.allocation is None:
        raise CorruptVolume(f"{view.label}: {index.describe()} has no INDX blocks")
    offset = vcn * vcn_unit(view.cluster_size, index.root.block_size)
    return view.index_block_unit(index.record, index.kind.name, index.allocation, offset, index.root.block_size, vcn)


def _single(parsed: MftRecord, type_code: int, kind: IndexKind, where: str) -> Attribute | None:
    found = parsed.find(type_code, kind.name)
    if len(found) > 1:
        raise CorruptVolume(f"{where} has {len(found)} {type_code:#x} {kind.name} attributes")
    return found[0] if found else None


def read_index(view: VolumeView, number: int, kind: IndexKind) -> NtfsIndex:
    """Index ``kind`` of MFT record ``number`` (in use); refuses a record spread over an attribute list."""
    record, parsed = view.record(number)
    where = f"{view.label}: MFT record {number} ({kind.label})"
    if not parsed.in_use:
        raise CorruptVolume(f"{where} is not in use")
    if parsed.find(ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST):
        raise AttributeList(f"{where} keeps its attributes in an attribute list, which vhdfix does not edit; "
                            "remove the file from Windows instead")
    root_attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.INDEX_ROOT, kind, where)
    if root_attribute is None or root_attribute.non_resident:
        raise CorruptVolume(f"{where} has no resident $INDEX_ROOT:{kind.name}")
    try:
        root = parse_root(root_attribute.value(record), kind)
    except IndexNodeError as exc:
        raise CorruptVolume(f"{where}: $INDEX_ROOT: {exc}") from None
    allocation_attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.INDEX_ALLOCATION, kind, where)
    blocks: dict[int, IndexNode] = {}
    allocation = None
    if allocation_attribute is not None:
        if not allocation_attribute.non_resident:
            raise CorruptVolume(f"{where} has a resident $INDEX_ALLOCATION")
        if not valid_block_size(root.block_size):
            raise CorruptVolume(f"{where}: index blocks of {root.block_size} bytes")
        allocation = Extents(allocation_attribute.runs, view.cluster_size)
        if allocation_attribute.data_size > allocation.mapped_size:
            raise CorruptVolume(f"{where}: $INDEX_ALLOCATION of {allocation_attribute.data_size} bytes with "
                                f"{allocation.mapped_size} bytes of runs")
        bitmap = _bitmap(view, record, parsed, kind, where, allocation_attribute.data_size // root.block_size)
        unit = vcn_unit(view.cluster_size, root.block_size)
        vcns = blocks_in_use(bitmap, allocation_attribute.data_size, root.block_size, view.cluster_size)
        if len(vcns) * root.block_size > MAX_INDEX_BYTES:
            raise RefusedUnsafe(f"{where} has {len(vcns)} INDX blocks in use, more than vhdfix reads into memory "
                                f"({MAX_INDEX_BYTES // (1024 * 1024)} MiB); remove the file from Windows instead")
        for vcn in vcns:
            block = view.index_block_unit(number, kind.name, allocation, vcn * unit, root.block_size, vcn)
            try:
                blocks[vcn] = parse_block(block.current, vcn, kind)
            except IndexNodeError as exc:
                raise CorruptVolume(f"{where}: {exc}") from None
    elif root.node.has_children:
        raise CorruptVolume(f"{where} has a large index but no $INDEX_ALLOCATION")
    return NtfsIndex(kind, number, parsed.sequence_number, parsed, root_attribute, root, allocation, blocks)


def _bitmap(view: VolumeView, record: bytearray, parsed: MftRecord, kind: IndexKind, where: str,
            blocks: int) -> bytes:
    """The index's ``$BITMAP``, no more of it than ``blocks`` bits need."""
    attribute = _single(parsed, ATTRIBUTE_TYPE_CODE.BITMAP, kind, where)
    if attribute is None:
        raise CorruptVolume(f"{where} has INDX blocks but no $BITMAP:{kind.name}")
    needed = (blocks + 7) // 8
    if not attribute.non_resident:
        return attribute.value(record)[:needed]
    extents = Extents(attribute.runs, view.cluster_size)
    return view.file_bytes(extents, 0, min(attribute.data_size, needed), f"$BITMAP:{kind.name} of {where}")


def check_removable(index: NtfsIndex, entries: list[tuple[IndexNode, IndexEntry]], path: str, advice: str) -> None:
    """The entries can be removed exactly (module docstring): leaves only, and no INDX block left empty."""
    for node, entry in entries:
        if entry.is_node or (node.has_children and node.vcn is not None):
            raise IndexNodeEntry(f"{path}: its entry in {index.describe()} is an inner node of the B+ tree; "
                                 f"removing it means rebalancing the tree, which vhdfix does not do; {advice}")
    for vcn, node in index.blocks.items():
        removed = sum(1 for where, _ in entries if where.vcn == vcn)
        if removed and removed == len(node.keyed_entries):
            raise IndexLastEntry(f"{path}: its entries are the last ones of INDX block {vcn} of {index.describe()}; "
                                 f"an empty block must be unlinked from the B+ tree, which vhdfix does not do; "
                                 f"{advice}")


def remove_entries(view: VolumeView, index: NtfsIndex, chosen: Callable[[IndexEntry], bool],
                   describe: Callable[[IndexEntry], str], step: int) -> None:
    """Remove every entry ``chosen`` picks from ``index`` (checked with :func:`check_removable`), re-reading the
    node after each removal because the entries after it move."""
    name = index.kind.name
    unit = view.record_unit(index.record)
    while True:
        record, parsed = view.record(index.record)
        attribute = parsed.find(ATTRIBUTE_TYPE_CODE.INDEX_ROOT, name)[0]
        value = attribute.value(record)
        root = parse_root(value, index.kind)
        entry = next((e for e in root.node.keyed_entries if chosen(e)), None)
        if entry is None:
            break
        resize_resident_value(record, parsed, attribute, remove_from_root_value(value, root.node, entry))
        view.note(unit, attribute.offset, parsed.bytes_in_use, step,
                  f"remove {name} index-root {describe(entry)}, shrink the root by {entry.length} bytes")
    for vcn in index.blocks:
        block = block_unit(view, index, vcn)
        while True:
            node = parse_block(block.current, vcn, index.kind)
            entry = next((e for e in node.keyed_entries if chosen(e)), None)
            if entry is None:
                break
            remove_from_block(block.current, node, entry)
            view.note(block, entry.offset, node.header_at + node.index_length, step,
                      f"remove {name} {describe(entry)}")
