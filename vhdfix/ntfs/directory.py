"""Directory lookups and listings over ``$I30``, bounded and cycle-checked.

dissect.ntfs's ``Index.search`` follows child VCNs in a ``while True`` loop, so
an index node whose entry points back at itself (or at an ancestor) makes a
path lookup spin for ever; its ``Index.entries`` walks every VCN up to the end
of ``$INDEX_ALLOCATION`` whatever the size claims; and its path walk follows
reparse points, which can point at each other (KNOWN_ISSUES.md). vhdfix walks
the B-tree itself with the node parser of :mod:`vhdfix.ntfs.index_node`: a node is
visited at most once, the depth is bounded, block sizes and allocation sizes
are checked against the volume, and reparse points are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE
from dissect.ntfs.mft import MftRecord

from vhdfix.errors import CorruptVolume
from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.index_node import (
    I30,
    IndexEntry,
    IndexNode,
    IndexNodeError,
    blocks_in_use,
    child_vcn,
    parse_block,
    parse_root,
    valid_block_size,
    vcn_unit,
)

MAX_INDEX_DEPTH = 32  # an NTFS B-tree of a million names is 4 or 5 levels deep
MAX_ROOT_VALUE = 64 * 1024  # the $INDEX_ROOT value lives inside one MFT record


def fold(name: str) -> str:
    """The case-insensitive form NTFS collates file names by (each character upcased on its own)."""
    if name.isascii():
        return name.upper()
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in name)


class DirectoryIndex:
    """The ``$I30`` index of one directory record on a volume of ``volume_size`` bytes."""

    def __init__(self, record: MftRecord, cluster_size: int, volume_size: int, where: str) -> None:
        self.where = where
        self.cluster_size = cluster_size
        try:
            value = record.open(I30, ATTRIBUTE_TYPE_CODE.INDEX_ROOT).read(MAX_ROOT_VALUE)
            self.root = parse_root(value)
        except IndexNodeError as exc:
            raise CorruptVolume(f"{where}: $INDEX_ROOT: {exc}") from None
        self.root_value = value
        self.block_size = self.root.block_size
        self._allocation = None
        self.allocation_size = 0
        allocation = record.attributes.find(I30, ATTRIBUTE_TYPE_CODE.INDEX_ALLOCATION)
        if allocation:
            if not valid_block_size(self.block_size):
                raise CorruptVolume(f"{where}: index blocks of {self.block_size} bytes")
            self.allocation_size = allocation.size()
            if self.allocation_size > volume_size:
                raise CorruptVolume(f"{where}: $INDEX_ALLOCATION of {self.allocation_size} bytes, more than the "
                                    "volume holds")
            self._allocation = allocation.open()
        bitmap = record.attributes.find(I30, ATTRIBUTE_TYPE_CODE.BITMAP)
        bitmap_limit = -(-self.allocation_size // max(self.block_size, 1) // 8)
        self._bitmap = bitmap.open().read(bitmap_limit) if bitmap and self._allocation is not None else b""

    def block(self, vcn: int) -> tuple[bytes, IndexNode]:
        """The fixed-up INDX block at ``vcn`` and its node."""
        offset = vcn * vcn_unit(self.cluster_size, self.block_size)
        if self._allocation is None or vcn < 0 or offset + self.block_size > self.allocation_size:
            raise CorruptVolume(f"{self.where}: index node at VCN {vcn} lies outside $INDEX_ALLOCATION")
        self._allocation.seek(offset)
        try:
            data = apply_fixup(self._allocation.read(self.block_size), self.block_size)
            return data, parse_block(data, vcn)
        except (FixupError, IndexNodeError) as exc:
            raise CorruptVolume(f"{self.where}: index block at VCN {vcn}: {exc}") from None

    def find(self, name: str) -> IndexEntry | None:
        """The entry named ``name`` (any case), descending from the root; None when absent."""
        wanted = fold(name)
        buffer, node = self.root_value, self.root.node
        visited: set[int] = set()
        while True:
            descend = None
            for entry in node.entries:
                if entry.is_end:
                    descend = entry
                    break
                assert entry.key is not None
                key = fold(entry.key.name)
                if key == wanted:
                    return entry
                if key > wanted:
                    descend = entry
                    break
            if descend is None or not descend.is_node:
                return None
            vcn = child_vcn(buffer, descend)
            if vcn in visited:
                raise CorruptVolume(f"{self.where}: index node at VCN {vcn} is its own descendant")
            if len(visited) >= MAX_INDEX_DEPTH:
                raise CorruptVolume(f"{self.where}: index deeper than {MAX_INDEX_DEPTH} levels")
            visited.add(vcn)
            buffer, node = self.block(vcn)

    def entries(self) -> Iterator[IndexEntry]:
        """Every keyed entry: the root's, then those of the blocks marked in use in ``$BITMAP:$I30``."""
        yield from self.root.node.keyed_entries
        if self._allocation is None:
            return
        for vcn in blocks_in_use(self._bitmap, self.allocation_size, self.block_size, self.cluster_size):
            yield from self.block(vcn)[1].keyed_entries
