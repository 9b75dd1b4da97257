"""VHD reader: fixed, dynamic and differencing disks.

Written from the Microsoft VHD specification rather than through
dissect.hypervisor, which validates nothing and reads differencing disks as
if they were dynamic, returning zeros for the parent's sectors
(library-notes.md §2.5, §2.6).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from vhdfix.disk.container import Container, ContainerInfo, Range, block_pieces
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.parent import ParentHints
from vhdfix.disk.vhd_format import (
    BAT_UNUSED,
    DISK_TYPE_DIFFERENCING,
    DISK_TYPE_DYNAMIC,
    DISK_TYPE_FIXED,
    DISK_TYPE_NAMES,
    DYNAMIC_COOKIE,
    DYNAMIC_DISK_HEADER,
    DYNAMIC_HEADER_CHECKSUM_OFFSET,
    DYNAMIC_HEADER_SIZE,
    FIXED_DATA_OFFSET,
    FOOTER_CHECKSUM_OFFSET,
    FOOTER_COOKIE,
    FOOTER_SIZE,
    HARD_DISK_FOOTER,
    SECTOR,
    vhd_checksum,
)
from vhdfix.errors import BadChecksum, CorruptContainer, NotADiskImage, ParentMismatch, Truncated
from vhdfix.layout import Record

if TYPE_CHECKING:
    from vhdfix.disk.opener import ChainOpener

MAX_BLOCK_SIZE = 256 * 1024 * 1024
MAX_LOCATOR_BYTES = 64 * 1024


def has_vhd_cookie(image: ImageFile) -> bool:
    tail = image.read_at(max(0, image.size - FOOTER_SIZE), FOOTER_SIZE)
    return tail.startswith(FOOTER_COOKIE) or tail[1:].startswith(FOOTER_COOKIE) or \
        image.read_at(0, 8) == FOOTER_COOKIE


def _checksum_problem(raw: bytes, offset: int) -> str | None:
    stored = struct.unpack_from(">I", raw, offset)[0]
    computed = vhd_checksum(raw, offset)
    return None if stored == computed else f"stored 0x{stored:08x}, computed 0x{computed:08x}"


def read_footer(image: ImageFile) -> tuple[Record, int, list[str]]:
    """The footer to trust, the file offset where the data area ends, and warnings.

    A copy with a valid checksum wins: the trailing footer, else the copy at
    offset 0 (dynamic and differencing disks only). When no copy has a valid
    checksum but the copies agree, the footer is used with a warning, as
    libvhdi does (qemu refuses); real test images from dfvfs are like this.
    """
    name = image.path.name
    if image.size < FOOTER_SIZE - 1:
        raise NotADiskImage(f"{name}: {image.size} bytes is too small for a VHD")
    tail_at = image.size - FOOTER_SIZE
    tail = image.read_at(tail_at, FOOTER_SIZE)
    if not tail.startswith(FOOTER_COOKIE) and tail[1:].startswith(FOOTER_COOKIE):
        tail_at += 1  # pre-2004 Virtual PC wrote 511-byte footers
        tail = tail[1:].ljust(FOOTER_SIZE, b"\0")
    head = image.read_at(0, FOOTER_SIZE)
    tail_ok = tail.startswith(FOOTER_COOKIE)
    head_ok = len(head) == FOOTER_SIZE and head.startswith(FOOTER_COOKIE) and \
        HARD_DISK_FOOTER.parse(head).disk_type in (DISK_TYPE_DYNAMIC, DISK_TYPE_DIFFERENCING)
    data_end = tail_at if tail_ok else image.size

    if tail_ok and _checksum_problem(tail, FOOTER_CHECKSUM_OFFSET) is None:
        return HARD_DISK_FOOTER.parse(tail), data_end, []
    if head_ok and _checksum_problem(head, FOOTER_CHECKSUM_OFFSET) is None:
        reason = "checksum mismatch" if tail_ok else "no 'conectix' cookie"
        return HARD_DISK_FOOTER.parse(head), data_end, [
            f"{name}: the trailing VHD footer is damaged ({reason}); using the copy at offset 0"]
    if not tail_ok and not head_ok:
        raise NotADiskImage(f"{name}: not a VHD (no valid footer)")
    chosen = tail if tail_ok else head
    if tail_ok and head_ok and tail != head:
        raise BadChecksum(f"{name}: both VHD footer copies fail their checksum and disagree")
    problem = _checksum_problem(chosen, FOOTER_CHECKSUM_OFFSET)
    return HARD_DISK_FOOTER.parse(chosen), data_end, [f"{name}: VHD footer checksum mismatch ({problem}); "
                                                      "its fields are consistent, so it is used"]


class FixedVhd(Container):
    def _read(self, offset: int, length: int) -> bytes:
        return self.image.read_exact(offset, length, "fixed VHD data")

    def _prefetch(self, ranges: list[Range]) -> None:
        self.image.prefetch(ranges)

    def stored_extent(self, offset: int, length: int) -> int | None:
        """The data area is the disk."""
        return offset if isinstance(self.image, ImageFile) else None

    def allocated_ranges(self) -> Iterator[Range]:
        """The data area is the disk, so its host-file holes are the disk's zeros."""
        return self.image.data_extents(0, self.virtual_size)


class SparseVhd(Container):
    """A dynamic or differencing VHD: a BAT of blocks, each a sector bitmap then data."""

    def __init__(self, image: ImageFile, info: ContainerInfo, header: Record,
                 bat: tuple[int, ...], parent: Container | None) -> None:
        super().__init__(image, info, parent)
        self.header = header
        self.block_size = header.block_size
        self.bat = bat
        sectors_per_block = self.block_size // SECTOR
        self.bitmap_size = -(-sectors_per_block // 8 // SECTOR) * SECTOR
        self._bitmap = lru_cache(maxsize=256)(self._read_bitmap)

    def block_data_offset(self, block: int) -> int | None:
        """File offset of the first data byte of ``block``, or None if unallocated."""
        entry = self.bat[block]
        if entry == BAT_UNUSED:
            return None
        return entry * SECTOR + self.bitmap_size

    def _read_bitmap(self, block: int) -> bytes:
        return self.image.read_exact(self.bat[block] * SECTOR, self.bitmap_size, f"sector bitmap of block {block}")

    def _prefetch(self, ranges: list[Range]) -> None:
        """A stored block's data is hinted in this file (a differencing block's sectors may also be the parent's,
        which is left to the read); an absent block's in the parent."""
        own: list[Range] = []
        inherited: list[Range] = []
        for block, within, offset, length in block_pieces(ranges, self.block_size):
            data_at = self.block_data_offset(block)
            if data_at is not None:
                own.append((data_at + within, length))
            elif self.parent is not None:
                inherited.append((offset, length))
        if own:
            self.image.prefetch(own)
        if inherited and self.parent is not None:
            self.parent.prefetch(inherited)

    def allocated_ranges(self) -> Iterator[Range]:
        """The stored parts of blocks with a BAT entry, and for a differencing disk whatever its parent holds.

        Host-file holes inside a block's data read as zeros, so they are left out.
        """
        return self._with_parent_ranges(self._stored_ranges())

    def _stored_ranges(self) -> Iterator[Range]:
        size, block_size = self.virtual_size, self.block_size
        for block in range(len(self.bat)):
            data_at = self.block_data_offset(block)
            if data_at is None:
                continue
            start = block * block_size
            for offset, length in self.image.data_extents(data_at, data_at + min(block_size, size - start)):
                yield start + offset - data_at, length

    def _read(self, offset: int, length: int) -> bytes:
        block, within = divmod(offset, self.block_size)
        if within + length <= self.block_size:  # the common case: no copy of the block's bytes
            return self._read_in_block(block, within, offset, length)
        out = bytearray()
        while length > 0:
            block, within = divmod(offset, self.block_size)
            step = min(length, self.block_size - within)
            out += self._read_in_block(block, within, offset, step)
            offset += step
            length -= step
        return bytes(out)

    def _read_in_block(self, block: int, within: int, offset: int, length: int) -> bytes:
        data_at = self.block_data_offset(block)
        if self.parent is None:
            if data_at is None:
                return bytes(length)
            # Dynamic disks: the block's data is authoritative, as qemu and Hyper-V read it.
            return self.image.read_exact(data_at + within, length, f"data of block {block}")
        if data_at is None:
            return self.parent.read(offset, length)
        # Differencing disks: a set bit (MSB first) means the sector lives in this file.
        bitmap = self._bitmap(block)
        out = bytearray()
        pos = within
        end = within + length
        while pos < end:
            sector = pos // SECTOR
            mine = bool(bitmap[sector >> 3] & (0x80 >> (sector & 7)))
            run_end = min(end, (sector + 1) * SECTOR)
            while run_end < end:
                s = run_end // SECTOR
                if bool(bitmap[s >> 3] & (0x80 >> (s & 7))) != mine:
                    break
                run_end = min(end, (s + 1) * SECTOR)
            if mine:
                out += self.image.read_exact(data_at + pos, run_end - pos, f"data of block {block}")
            else:
                out += self.parent.read(offset - within + pos, run_end - pos)
            pos = run_end
        return bytes(out)


def _parent_hints(image: ImageFile, header: Record, data_end: int) -> ParentHints:
    hints = ParentHints()
    name = header.parent_unicode_name.decode("utf-16-be", "replace").split("\0", 1)[0].strip()
    for entry in header.parent_locator_entries:
        code = entry.platform_code
        if code not in (b"W2ru", b"W2ku") or entry.platform_data_length == 0:
            continue
        if entry.platform_data_length > MAX_LOCATOR_BYTES or \
                entry.platform_data_offset + entry.platform_data_length > data_end:
            raise CorruptContainer(f"{image.path.name}: parent locator {code.decode()} points outside the file")
        raw = image.read_exact(entry.platform_data_offset, entry.platform_data_length, "parent locator")
        path = raw.decode("utf-16-le", "replace").split("\0", 1)[0].strip()
        if path:
            (hints.relative_paths if code == b"W2ru" else hints.absolute_paths).append(path)
    if name:
        hints.names.append(name)
    return hints


def open_vhd(image: ImageFile, opener: ChainOpener, depth: int) -> Container:
    name = image.path.name
    footer, data_end, warnings = read_footer(image)
    kind = footer.disk_type
    if kind not in DISK_TYPE_NAMES:
        raise CorruptContainer(f"{name}: unknown VHD disk type {kind}")
    size = footer.current_size
    info = ContainerInfo("vhd", DISK_TYPE_NAMES[kind], size, warnings=warnings)

    if kind == DISK_TYPE_FIXED:
        if footer.data_offset != FIXED_DATA_OFFSET:
            raise CorruptContainer(f"{name}: fixed VHD with a dynamic-header offset")
        if data_end < size:
            raise Truncated(f"{name}: fixed VHD holds {data_end} bytes of data but declares {size}")
        return FixedVhd(image, info)

    header_at = footer.data_offset
    if header_at < FOOTER_SIZE or header_at + DYNAMIC_HEADER_SIZE > data_end:
        raise Truncated(f"{name}: dynamic header offset {header_at} is outside the file")
    raw = image.read_exact(header_at, DYNAMIC_HEADER_SIZE, "dynamic disk header")
    if not raw.startswith(DYNAMIC_COOKIE):
        raise CorruptContainer(f"{name}: dynamic disk header has no 'cxsparse' cookie")
    header = DYNAMIC_DISK_HEADER.parse(raw)
    problem = _checksum_problem(raw, DYNAMIC_HEADER_CHECKSUM_OFFSET)
    if problem is not None:
        # Every field used below is bounds-checked, so a wrong checksum alone is reported, not fatal.
        info.warnings.append(f"{name}: dynamic disk header checksum mismatch ({problem})")

    block_size = header.block_size
    if block_size < SECTOR or block_size > MAX_BLOCK_SIZE or block_size & (block_size - 1):
        raise CorruptContainer(f"{name}: invalid block size {block_size}")
    blocks_needed = -(-size // block_size)
    if header.max_table_entries < blocks_needed:
        raise CorruptContainer(f"{name}: BAT has {header.max_table_entries} entries, "
                               f"the disk size needs {blocks_needed}")
    bat_at, bat_len = header.table_offset, blocks_needed * 4
    if bat_at + bat_len > data_end:
        raise Truncated(f"{name}: the block allocation table runs past the end of the file")
    bat = struct.unpack(f">{blocks_needed}I", image.read_exact(bat_at, bat_len, "block allocation table"))

    sectors_per_block = block_size // SECTOR
    block_span = -(-sectors_per_block // 8 // SECTOR) * SECTOR + block_size
    for index, entry in enumerate(bat):
        if entry != BAT_UNUSED and entry * SECTOR + block_span > data_end:
            raise Truncated(f"{name}: block {index} lies past the end of the file")

    parent = None
    if kind == DISK_TYPE_DIFFERENCING:
        hints = _parent_hints(image, header, data_end)
        expected = header.parent_unique_id
        parent = opener.open_parent(image.path, depth, hints)
        identity = parent_identity(parent)
        if identity != expected:
            parent.close()
            raise ParentMismatch(f"{name}: parent {parent.image.path.name} has unique id "
                                 f"{identity.hex() if identity else 'none'}, the child expects {expected.hex()}")
        if parent.virtual_size < size:
            parent.close()
            raise ParentMismatch(f"{name}: parent {parent.image.path.name} is smaller than the child")
    return SparseVhd(image, info, header, bat, parent)


def parent_identity(container: Container) -> bytes | None:
    """The unique id a VHD child records for this parent: the parent footer's unique_id."""
    if container.info.format != "vhd":
        return None
    footer, _, _ = read_footer(container.image)
    return footer.unique_id
