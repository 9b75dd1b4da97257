"""VHDX reader: fixed, dynamic and differencing disks, with in-memory log replay.

Written from [MS-VHDX] rather than through dissect.hypervisor, whose reader
returns wrong bytes for reads that cross a payload-block boundary, checks no
CRC, has no region-table fallback and never replays the log
(library-notes.md §2.3-2.7).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, pairwise
from typing import TYPE_CHECKING
from uuid import UUID

from vhdfix.disk.container import Container, ContainerInfo, Range, block_pieces
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.parent import ParentHints
from vhdfix.disk.vhdx_format import (
    BAT_ENTRY_SIZE,
    BAT_OFFSET_SHIFT,
    BAT_REGION_GUID,
    BAT_STATE_MASK,
    CHUNK_SECTORS,
    FILE_IDENTIFIER_SIGNATURE,
    FILE_PARAMETERS,
    FILE_PARAMETERS_GUID,
    HAS_PARENT,
    HEADER,
    HEADER_CHECKSUM_OFFSET,
    HEADER_OFFSETS,
    HEADER_SECTION_SIZE,
    HEADER_SIGNATURE,
    HEADER_SIZE,
    LEAVE_BLOCK_ALLOCATED,
    LOGICAL_SECTOR_SIZE_GUID,
    MAX_BLOCK_SIZE,
    MAX_VIRTUAL_DISK_SIZE,
    METADATA_IS_REQUIRED,
    METADATA_ITEM_MAX_LENGTH,
    METADATA_REGION_GUID,
    METADATA_TABLE_ENTRY,
    METADATA_TABLE_HEADER,
    METADATA_TABLE_MAX_ENTRIES,
    METADATA_TABLE_SIGNATURE,
    METADATA_TABLE_SIZE,
    MIN_BLOCK_SIZE,
    PARENT_LOCATOR_ENTRY,
    PARENT_LOCATOR_ENTRY_SIZE,
    PARENT_LOCATOR_GUID,
    PARENT_LOCATOR_HEADER,
    PARENT_LOCATOR_HEADER_SIZE,
    PAYLOAD_BLOCK_FULLY_PRESENT,
    PAYLOAD_BLOCK_NOT_PRESENT,
    PAYLOAD_BLOCK_PARTIALLY_PRESENT,
    PAYLOAD_BLOCK_UNDEFINED,
    PAYLOAD_BLOCK_UNMAPPED,
    PAYLOAD_BLOCK_ZERO,
    PHYSICAL_SECTOR_SIZE_GUID,
    REGION_ALIGNMENT,
    REGION_REQUIRED,
    REGION_TABLE_CHECKSUM_OFFSET,
    REGION_TABLE_ENTRY,
    REGION_TABLE_HEADER,
    REGION_TABLE_MAX_ENTRIES,
    REGION_TABLE_OFFSETS,
    REGION_TABLE_SIGNATURE,
    REGION_TABLE_SIZE,
    SB_BLOCK_NOT_PRESENT,
    SB_BLOCK_PRESENT,
    SECTOR_BITMAP_BLOCK_SIZE,
    SECTOR_SIZES,
    VHDX_PARENT_LOCATOR_TYPE,
    VIRTUAL_DISK_ID_GUID,
    VIRTUAL_DISK_SIZE_GUID,
    MiB,
)
from vhdfix.disk.vhdx_log import VhdxFileView, replay_log
from vhdfix.errors import (
    BadChecksum,
    CorruptContainer,
    NotADiskImage,
    ParentMismatch,
    Truncated,
    UnsupportedFormat,
)
from vhdfix.layout import Record

if TYPE_CHECKING:
    from vhdfix.disk.opener import ChainOpener

KNOWN_REGIONS = {BAT_REGION_GUID: "BAT", METADATA_REGION_GUID: "metadata"}
KNOWN_METADATA = {FILE_PARAMETERS_GUID, VIRTUAL_DISK_SIZE_GUID, VIRTUAL_DISK_ID_GUID, LOGICAL_SECTOR_SIZE_GUID,
                  PHYSICAL_SECTOR_SIZE_GUID, PARENT_LOCATOR_GUID}
PAYLOAD_STATES = {PAYLOAD_BLOCK_NOT_PRESENT, PAYLOAD_BLOCK_UNDEFINED, PAYLOAD_BLOCK_ZERO, PAYLOAD_BLOCK_UNMAPPED,
                  PAYLOAD_BLOCK_FULLY_PRESENT, PAYLOAD_BLOCK_PARTIALLY_PRESENT}
EAGER_BAT_BYTES = 1 * MiB  # BATs up to this size are read and checked whole at open
BAT_CHUNK_ENTRIES = 8192  # larger ones are read lazily, 64 KiB at a time
BAT_CHUNK_CACHE = 64
BITMAP_CACHE = 64


@dataclass(frozen=True)
class VhdxRegion:
    """One region table entry (§2.2.3.2)."""

    guid: UUID
    file_offset: int
    length: int
    required: bool

    @property
    def end(self) -> int:
        return self.file_offset + self.length


@dataclass(frozen=True)
class VhdxMetadata:
    """The system metadata items (§2.6.2)."""

    block_size: int
    leave_block_allocated: bool
    has_parent: bool
    virtual_disk_size: int
    virtual_disk_id: UUID
    logical_sector_size: int
    physical_sector_size: int
    parent_locator: dict[str, str] | None


def _header_problem(raw: bytes) -> str | None:
    if raw[:4] != HEADER_SIGNATURE:
        return "no 'head' signature"
    if struct.unpack_from("<I", raw, HEADER_CHECKSUM_OFFSET)[0] != \
            checksum_with_field_zeroed(raw, HEADER_CHECKSUM_OFFSET):
        return "checksum mismatch"
    return None


def read_headers(image: ImageFile) -> tuple[Record, int, list[str]]:
    """The current header (§2.2.2: the valid one with the higher SequenceNumber), its slot, and warnings."""
    name = image.path.name
    valid: list[tuple[int, Record]] = []
    problems: list[str] = []
    for slot, offset in enumerate(HEADER_OFFSETS, 1):
        raw = image.read_exact(offset, HEADER_SIZE, f"VHDX header {slot}")
        problem = _header_problem(raw)
        if problem is None:
            valid.append((slot, HEADER.parse(raw)))
        else:
            problems.append(f"header {slot} ({problem})")
    if not valid:
        raise BadChecksum(f"{name}: no valid VHDX header: {'; '.join(problems)}")
    slot, header = max(valid, key=lambda item: (item[1].sequence_number, -item[0]))
    warnings = [f"{name}: VHDX {problem} is damaged; using header {slot}" for problem in problems]
    if header.version != 1:
        raise UnsupportedFormat(f"{name}: VHDX header version {header.version} is not supported")
    return header, slot, warnings


def _parse_region_table(raw: bytes) -> list[VhdxRegion] | str:
    """The entries of one region table, or why it is invalid."""
    if raw[:4] != REGION_TABLE_SIGNATURE:
        return "no 'regi' signature"
    table = REGION_TABLE_HEADER.parse(raw)
    if table.checksum != checksum_with_field_zeroed(raw, REGION_TABLE_CHECKSUM_OFFSET):
        return "checksum mismatch"
    if table.entry_count > REGION_TABLE_MAX_ENTRIES:
        return f"{table.entry_count} entries"
    return [VhdxRegion(UUID(bytes_le=entry.guid), entry.file_offset, entry.length, bool(entry.flags & REGION_REQUIRED))
            for entry in REGION_TABLE_ENTRY.parse_array(raw, table.entry_count, len(REGION_TABLE_HEADER))]


def read_region_table(view: VhdxFileView, header: Record) -> tuple[dict[UUID, VhdxRegion], list[str]]:
    """Region table 1, or table 2 when table 1 is damaged (§2.2.3); regions checked for bounds."""
    name = view.image.path.name
    tables = []
    for slot, offset in enumerate(REGION_TABLE_OFFSETS, 1):
        tables.append((slot, _parse_region_table(view.read_exact(offset, REGION_TABLE_SIZE,
                                                                 f"VHDX region table {slot}"))))
    good = [(slot, table) for slot, table in tables if not isinstance(table, str)]
    bad = [f"region table {slot} ({table})" for slot, table in tables if isinstance(table, str)]
    if not good:
        raise BadChecksum(f"{name}: no valid VHDX region table: {'; '.join(bad)}")
    slot, entries = good[0]
    warnings = [f"{name}: VHDX {problem} is damaged; using region table {slot}" for problem in bad]

    regions: dict[UUID, VhdxRegion] = {}
    for region in entries:
        label = KNOWN_REGIONS.get(region.guid, str(region.guid))
        if region.guid in regions:
            raise CorruptContainer(f"{name}: the VHDX region table lists the {label} region twice")
        if region.guid not in KNOWN_REGIONS:
            if region.required:
                raise UnsupportedFormat(f"{name}: VHDX file needs unknown region {region.guid}")
            continue
        if region.file_offset < HEADER_SECTION_SIZE or region.file_offset % REGION_ALIGNMENT or \
                region.length == 0 or region.length % REGION_ALIGNMENT:
            raise CorruptContainer(f"{name}: VHDX {label} region at {region.file_offset} of {region.length} "
                                   "bytes is not 1 MiB aligned")
        if region.end > view.size:
            raise Truncated(f"{name}: the VHDX {label} region runs past the end of the file")
        regions[region.guid] = region
    for guid, label in KNOWN_REGIONS.items():
        if guid not in regions:
            raise CorruptContainer(f"{name}: the VHDX region table has no {label} region")
    spans = [(region.file_offset, region.end, KNOWN_REGIONS[region.guid]) for region in regions.values()]
    if header.log_length:
        spans.append((header.log_offset, header.log_offset + header.log_length, "log"))
    spans.sort()
    for (_, first_end, first), (second_start, _, second) in pairwise(spans):
        if second_start < first_end:
            raise CorruptContainer(f"{name}: the VHDX {first} and {second} regions overlap")
    return regions, warnings


def _metadata_item(view: VhdxFileView, region: VhdxRegion, items: dict[UUID, tuple[int, int]], guid: UUID,
                   label: str, minimum: int) -> bytes:
    name = view.image.path.name
    if guid not in items:
        raise CorruptContainer(f"{name}: VHDX metadata has no {label} item")
    offset, length = items[guid]
    if length < minimum:
        raise CorruptContainer(f"{name}: VHDX {label} metadata item is {length} bytes, needs {minimum}")
    return view.read_exact(region.file_offset + offset, length, f"VHDX {label} metadata item")


def _parent_locator(raw: bytes, name: str) -> dict[str, str]:
    """Key/value pairs of the VHDX parent locator (§2.6.2.6)."""
    header = PARENT_LOCATOR_HEADER.parse(raw)
    if UUID(bytes_le=header.locator_type) != VHDX_PARENT_LOCATOR_TYPE:
        raise UnsupportedFormat(f"{name}: unknown VHDX parent locator type {UUID(bytes_le=header.locator_type)}")
    if PARENT_LOCATOR_HEADER_SIZE + header.key_value_count * PARENT_LOCATOR_ENTRY_SIZE > len(raw):
        raise CorruptContainer(f"{name}: VHDX parent locator entries run past the item")
    pairs: dict[str, str] = {}
    for index in range(header.key_value_count):
        entry = PARENT_LOCATOR_ENTRY.parse(raw, PARENT_LOCATOR_HEADER_SIZE + index * PARENT_LOCATOR_ENTRY_SIZE)
        fields = []
        for offset, length in ((entry.key_offset, entry.key_length), (entry.value_offset, entry.value_length)):
            if offset + length > len(raw) or length % 2:
                raise CorruptContainer(f"{name}: VHDX parent locator entry {index} points outside the item")
            try:
                fields.append(raw[offset:offset + length].decode("utf-16-le"))
            except UnicodeDecodeError:
                raise CorruptContainer(f"{name}: VHDX parent locator entry {index} is not UTF-16") from None
        key, value = fields
        if key in pairs:
            raise CorruptContainer(f"{name}: VHDX parent locator has key {key!r} twice")
        pairs[key] = value
    return pairs


def read_metadata(view: VhdxFileView, region: VhdxRegion) -> VhdxMetadata:
    """The metadata table (§2.6.1) and the items vhdfix needs, all checked."""
    name = view.image.path.name
    raw = view.read_exact(region.file_offset, METADATA_TABLE_SIZE, "VHDX metadata table")
    table = METADATA_TABLE_HEADER.parse(raw)
    if table.signature != METADATA_TABLE_SIGNATURE:
        raise CorruptContainer(f"{name}: VHDX metadata table has no 'metadata' signature")
    if table.entry_count > METADATA_TABLE_MAX_ENTRIES:
        raise CorruptContainer(f"{name}: VHDX metadata table claims {table.entry_count} entries")
    items: dict[UUID, tuple[int, int]] = {}
    for entry in METADATA_TABLE_ENTRY.parse_array(raw, table.entry_count, len(METADATA_TABLE_HEADER)):
        guid = UUID(bytes_le=entry.item_id)
        if guid in items:
            raise CorruptContainer(f"{name}: VHDX metadata item {guid} is listed twice")
        if guid not in KNOWN_METADATA and entry.flags & METADATA_IS_REQUIRED:
            raise UnsupportedFormat(f"{name}: VHDX file needs unknown metadata item {guid}")
        if entry.length and (entry.offset < METADATA_TABLE_SIZE or entry.length > METADATA_ITEM_MAX_LENGTH
                             or entry.offset + entry.length > region.length):
            raise CorruptContainer(f"{name}: VHDX metadata item {guid} lies outside the metadata region")
        items[guid] = (entry.offset, entry.length)

    parameters = FILE_PARAMETERS.parse(_metadata_item(view, region, items, FILE_PARAMETERS_GUID, "file parameters",
                                                      len(FILE_PARAMETERS)))
    size = struct.unpack("<Q", _metadata_item(view, region, items, VIRTUAL_DISK_SIZE_GUID,
                                              "virtual disk size", 8)[:8])[0]
    disk_id = UUID(bytes_le=_metadata_item(view, region, items, VIRTUAL_DISK_ID_GUID, "virtual disk id", 16)[:16])
    logical = struct.unpack("<I", _metadata_item(view, region, items, LOGICAL_SECTOR_SIZE_GUID,
                                                 "logical sector size", 4)[:4])[0]
    physical = struct.unpack("<I", _metadata_item(view, region, items, PHYSICAL_SECTOR_SIZE_GUID,
                                                  "physical sector size", 4)[:4])[0]
    block_size = parameters.block_size
    if block_size < MIN_BLOCK_SIZE or block_size > MAX_BLOCK_SIZE or block_size & (block_size - 1):
        raise CorruptContainer(f"{name}: VHDX block size {block_size} is not a power of two from 1 to 256 MiB")
    if logical not in SECTOR_SIZES or physical not in SECTOR_SIZES:
        raise CorruptContainer(f"{name}: VHDX sector sizes {logical}/{physical} are not 512 or 4096")
    if size % logical or size > MAX_VIRTUAL_DISK_SIZE:
        raise CorruptContainer(f"{name}: VHDX virtual disk size {size} is invalid")
    has_parent = bool(parameters.flags & HAS_PARENT)
    locator = None
    if has_parent:
        locator = _parent_locator(_metadata_item(view, region, items, PARENT_LOCATOR_GUID, "parent locator",
                                                 PARENT_LOCATOR_HEADER_SIZE), name)
    return VhdxMetadata(block_size, bool(parameters.flags & LEAVE_BLOCK_ALLOCATED), has_parent, size, disk_id,
                        logical, physical, locator)


class BlockAllocationTable:
    """The BAT (§2.5), read in 64 KiB chunks and checked as each chunk is loaded."""

    def __init__(self, disk: VhdxDisk, region: VhdxRegion, total_entries: int) -> None:
        self._disk = disk
        self._region = region
        self.total_entries = total_entries
        self._chunk = lru_cache(maxsize=BAT_CHUNK_CACHE)(self._load_chunk)

    def entry(self, index: int) -> int:
        chunk, within = divmod(index, BAT_CHUNK_ENTRIES)
        return self._chunk(chunk)[within]

    def load_all(self) -> None:
        for chunk in range(-(-self.total_entries // BAT_CHUNK_ENTRIES)):
            self._chunk(chunk)

    def _load_chunk(self, chunk: int) -> array[int]:
        first = chunk * BAT_CHUNK_ENTRIES
        count = min(BAT_CHUNK_ENTRIES, self.total_entries - first)
        raw = self._disk.view.read_exact(self._region.file_offset + first * BAT_ENTRY_SIZE, count * BAT_ENTRY_SIZE,
                                         "VHDX block allocation table")
        entries = array("Q", raw)
        if sys.byteorder == "big":
            entries.byteswap()
        for offset in compress(range(count), entries):  # an entry of 0 (not present) is always valid
            self._disk.check_bat_entry(first + offset, entries[offset])
        return entries


class VhdxDisk(Container):
    """A VHDX disk. For the future writer: :meth:`file_extent`, ``block_size``, ``header``, ``header_slot``,
    ``regions`` and ``log_replayed_entries``."""

    def __init__(self, image: ImageFile, info: ContainerInfo, view: VhdxFileView, header: Record,
                 header_slot: int, regions: dict[UUID, VhdxRegion], metadata: VhdxMetadata) -> None:
        super().__init__(image, info)
        self.view = view
        self.header = header
        self.header_slot = header_slot  # 1 or 2: a writer updates the other one first (write-path.md §8.3)
        self.regions = regions
        self.metadata = metadata
        self.block_size = metadata.block_size
        self.sector_size = metadata.logical_sector_size
        self.log_replayed_entries = view.overlay.entries if view.overlay is not None else 0
        # §2.4: a chunk is 2^23 sectors; its sector bitmap block follows its chunk_ratio payload entries.
        self.chunk_ratio = CHUNK_SECTORS * self.sector_size // self.block_size
        self.sectors_per_block = self.block_size // self.sector_size
        self.data_blocks = -(-metadata.virtual_disk_size // self.block_size)
        if metadata.has_parent:
            total = -(-self.data_blocks // self.chunk_ratio) * (self.chunk_ratio + 1)
        else:
            total = self.data_blocks + (self.data_blocks - 1) // self.chunk_ratio if self.data_blocks else 0
        bat_region = regions[BAT_REGION_GUID]
        if total * BAT_ENTRY_SIZE > bat_region.length:
            raise CorruptContainer(f"{image.path.name}: VHDX BAT region holds {bat_region.length // BAT_ENTRY_SIZE} "
                                   f"entries, the disk size needs {total}")
        reserved = [(0, HEADER_SECTION_SIZE)] + [(region.file_offset, region.end) for region in regions.values()]
        if header.log_length:
            reserved.append((header.log_offset, header.log_offset + header.log_length))
        self._reserved = reserved
        self.bat = BlockAllocationTable(self, bat_region, total)
        self._bitmap = lru_cache(maxsize=BITMAP_CACHE)(self._read_bitmap)

    def check_bat_entry(self, index: int, entry: int) -> None:
        """Refuse a BAT entry whose state or position is impossible (§2.5.1)."""
        name = self.image.path.name
        state, offset = entry & BAT_STATE_MASK, (entry >> BAT_OFFSET_SHIFT) * MiB
        group, position = divmod(index, self.chunk_ratio + 1)
        if position == self.chunk_ratio:
            # Sector bitmap entries matter only for differencing disks; qemu leaves junk in them otherwise.
            if not self.metadata.has_parent:
                return
            if state not in (SB_BLOCK_NOT_PRESENT, SB_BLOCK_PRESENT):
                raise CorruptContainer(f"{name}: VHDX sector bitmap entry {group} has invalid state {state}")
            if state == SB_BLOCK_PRESENT:
                self._check_extent(offset, SECTOR_BITMAP_BLOCK_SIZE, f"sector bitmap block {group}")
            return
        block = group * self.chunk_ratio + position
        if block >= self.data_blocks:
            return
        if state not in PAYLOAD_STATES:
            raise CorruptContainer(f"{name}: VHDX payload block {block} has invalid state {state}")
        if state == PAYLOAD_BLOCK_PARTIALLY_PRESENT and not self.metadata.has_parent:
            raise CorruptContainer(f"{name}: VHDX payload block {block} is partially present in a disk "
                                   "without a parent")
        if state in (PAYLOAD_BLOCK_FULLY_PRESENT, PAYLOAD_BLOCK_PARTIALLY_PRESENT):
            needed = min(self.block_size, self.virtual_size - block * self.block_size)
            self._check_extent(offset, needed, f"payload block {block}")

    def _check_extent(self, offset: int, length: int, what: str) -> None:
        name = self.image.path.name
        for start, end in self._reserved:
            if offset < end and offset + length > start:
                raise CorruptContainer(f"{name}: VHDX {what} at {offset} overlaps the file's own structures")
        if offset + length > self.view.size:
            raise Truncated(f"{name}: VHDX {what} lies past the end of the file")

    def payload_entry(self, block: int) -> int:
        return self.bat.entry(block + block // self.chunk_ratio)

    def file_extent(self, virtual_offset: int) -> tuple[int, int] | None:
        """Where ``virtual_offset`` is stored in the file and how many bytes follow it contiguously.

        None unless its block is FULLY_PRESENT, the only state whose bytes a writer may change in place
        (write-path.md §8.3). File offsets point into the image as stored; a writer must refuse files
        whose log was replayed (``log_replayed_entries``), since their BAT exists only in memory.
        """
        if not 0 <= virtual_offset < self.virtual_size:
            raise ValueError(f"virtual offset {virtual_offset} is outside the disk")
        block, within = divmod(virtual_offset, self.block_size)
        entry = self.payload_entry(block)
        if entry & BAT_STATE_MASK != PAYLOAD_BLOCK_FULLY_PRESENT:
            return None
        length = min(self.block_size - within, self.virtual_size - virtual_offset)
        return (entry >> BAT_OFFSET_SHIFT) * MiB + within, length

    def stored_extent(self, offset: int, length: int) -> int | None:
        """Inside one FULLY_PRESENT block of a file read as stored (no log replayed over it)."""
        if self.view.overlay is not None or self.parent is not None or not isinstance(self.image, ImageFile):
            return None
        extent = self.file_extent(offset)
        return extent[0] if extent is not None and extent[1] >= length else None

    def allocated_ranges(self) -> Iterator[Range]:
        """The stored parts of FULLY_ and PARTIALLY_PRESENT blocks (§2.5.1.1), and for a differencing disk
        its parent's data. Host-file holes inside a block read as zeros, unless a replayed log may cover them."""
        return self._with_parent_ranges(self._stored_ranges())

    def _stored_ranges(self) -> Iterator[Range]:
        size, block_size = self.virtual_size, self.block_size
        for block in range(self.data_blocks):
            entry = self.payload_entry(block)
            if entry & BAT_STATE_MASK not in (PAYLOAD_BLOCK_FULLY_PRESENT, PAYLOAD_BLOCK_PARTIALLY_PRESENT):
                continue
            start = block * block_size
            length = min(block_size, size - start)
            if self.view.overlay is not None:
                yield start, length
                continue
            data_at = (entry >> BAT_OFFSET_SHIFT) * MiB
            for offset, extent in self.image.data_extents(data_at, data_at + length):
                yield start + offset - data_at, extent

    def _prefetch(self, ranges: list[Range]) -> None:
        """A present block's data is hinted in this file (a partially present one's sectors may also be the
        parent's, which is left to the read); a block not present in the parent."""
        own: list[Range] = []
        inherited: list[Range] = []
        for block, within, offset, length in block_pieces(ranges, self.block_size):
            entry = self.payload_entry(block)
            state = entry & BAT_STATE_MASK
            if state in (PAYLOAD_BLOCK_FULLY_PRESENT, PAYLOAD_BLOCK_PARTIALLY_PRESENT):
                own.append(((entry >> BAT_OFFSET_SHIFT) * MiB + within, length))
            elif state == PAYLOAD_BLOCK_NOT_PRESENT and self.parent is not None:
                inherited.append((offset, length))
        if own:
            self.image.prefetch(own)
        if inherited and self.parent is not None:
            self.parent.prefetch(inherited)

    def _read(self, offset: int, length: int) -> bytes:
        pieces = []
        while length > 0:
            block, within = divmod(offset, self.block_size)
            step = min(length, self.block_size - within)
            pieces.append(self._read_in_block(block, within, offset, step))
            offset += step
            length -= step
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _read_in_block(self, block: int, within: int, offset: int, length: int) -> bytes:
        entry = self.payload_entry(block)
        state, data_at = entry & BAT_STATE_MASK, (entry >> BAT_OFFSET_SHIFT) * MiB
        if state == PAYLOAD_BLOCK_FULLY_PRESENT:
            return self.view.read_exact(data_at + within, length, f"VHDX payload block {block}")
        if state == PAYLOAD_BLOCK_PARTIALLY_PRESENT:
            return self._read_partial(block, within, offset, length, data_at)
        # §2.5.1.1: only NOT_PRESENT defers to the parent; UNDEFINED, ZERO and UNMAPPED read as zeros.
        if state == PAYLOAD_BLOCK_NOT_PRESENT and self.parent is not None:
            return self.parent.read(offset, length)
        return bytes(length)

    def _read_bitmap(self, block: int) -> int:
        """The block's sector bitmap as an int: bit i set = sector i is in this file (§2.4, LSB first)."""
        name = self.image.path.name
        chunk, position = divmod(block, self.chunk_ratio)
        entry = self.bat.entry(chunk * (self.chunk_ratio + 1) + self.chunk_ratio)
        if entry & BAT_STATE_MASK != SB_BLOCK_PRESENT:
            raise CorruptContainer(f"{name}: VHDX payload block {block} is partially present but its sector "
                                   "bitmap block is not")
        size = self.sectors_per_block // 8
        raw = self.view.read_exact((entry >> BAT_OFFSET_SHIFT) * MiB + position * size, size,
                                   f"VHDX sector bitmap of block {block}")
        return int.from_bytes(raw, "little")

    def _read_partial(self, block: int, within: int, offset: int, length: int, data_at: int) -> bytes:
        bits = self._bitmap(block)
        sector_size = self.sector_size
        block_start = offset - within
        pieces = []
        pos, end = within, within + length
        while pos < end:
            sector = pos // sector_size
            rest = bits >> sector
            mine = rest & 1
            if mine:
                run = ((~rest) & (rest + 1)).bit_length() - 1  # index of the first clear bit
            else:
                run = (rest & -rest).bit_length() - 1 if rest else self.sectors_per_block
            stop = min(end, (sector + run) * sector_size)
            if mine:
                pieces.append(self.view.read_exact(data_at + pos, stop - pos, f"VHDX payload block {block}"))
            else:
                pieces.append(self.parent.read(block_start + pos, stop - pos))
            pos = stop
        return b"".join(pieces)


def _guid_value(locator: dict[str, str], key: str, name: str) -> UUID | None:
    value = locator.get(key)
    if value is None:
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        raise CorruptContainer(f"{name}: VHDX parent locator {key} {value!r} is not a GUID") from None


def _open_parent(disk: VhdxDisk, opener: ChainOpener, depth: int) -> Container:
    """Open and verify the parent of a differencing disk (§2.6.2.6.1)."""
    name = disk.image.path.name
    locator = disk.metadata.parent_locator or {}
    linkage = _guid_value(locator, "parent_linkage", name)
    if linkage is None:
        raise CorruptContainer(f"{name}: VHDX parent locator has no parent_linkage")
    accepted = [guid for guid in (linkage, _guid_value(locator, "parent_linkage2", name)) if guid is not None]
    hints = ParentHints(relative_paths=[locator["relative_path"]] if locator.get("relative_path") else [],
                        absolute_paths=[locator[key] for key in ("absolute_win32_path", "volume_path")
                                        if locator.get(key)])
    parent = opener.open_parent(disk.image.path, depth, hints)
    try:
        parent_name = parent.image.path.name
        if not isinstance(parent, VhdxDisk):
            raise ParentMismatch(f"{name}: parent {parent_name} is {parent.info.format.upper()}, a VHDX child "
                                 "needs a VHDX parent")
        identity = UUID(bytes_le=parent.header.data_write_guid)
        if identity not in accepted:
            raise ParentMismatch(f"{name}: parent {parent_name} has DataWriteGuid {identity}, the child expects "
                                 f"{' or '.join(str(guid) for guid in accepted)}")
        if parent.virtual_size != disk.virtual_size:
            raise ParentMismatch(f"{name}: parent {parent_name} is {parent.virtual_size} bytes, the child "
                                 f"{disk.virtual_size}")
    except BaseException:
        parent.close()
        raise
    return parent


def open_vhdx(image: ImageFile, opener: ChainOpener, depth: int) -> VhdxDisk:
    name = image.path.name
    if image.read_at(0, len(FILE_IDENTIFIER_SIGNATURE)) != FILE_IDENTIFIER_SIGNATURE:
        raise NotADiskImage(f"{name}: no 'vhdxfile' identifier")
    if image.size < REGION_TABLE_OFFSETS[1] + REGION_TABLE_SIZE:
        raise Truncated(f"{name}: {image.size} bytes is too small for a VHDX header section")
    header, header_slot, warnings = read_headers(image)
    overlay = replay_log(image, header)
    if overlay is not None:
        warnings.append(f"{name}: VHDX log replayed in memory ({overlay.entries} entries)")
    elif header.log_guid != bytes(16):
        warnings.append(f"{name}: VHDX log has no valid entries; nothing to replay")
    view = VhdxFileView(image, overlay)
    regions, region_warnings = read_region_table(view, header)
    warnings += region_warnings
    metadata = read_metadata(view, regions[METADATA_REGION_GUID])

    if metadata.has_parent:
        variant = "differencing"
    elif metadata.leave_block_allocated:
        variant = "fixed"
    else:
        variant = "dynamic"
    info = ContainerInfo("vhdx", variant, metadata.virtual_disk_size, sector_size=metadata.logical_sector_size,
                         block_size=metadata.block_size, warnings=warnings)
    disk = VhdxDisk(image, info, view, header, header_slot, regions, metadata)
    if disk.bat.total_entries * BAT_ENTRY_SIZE <= EAGER_BAT_BYTES:
        disk.bat.load_all()
    if metadata.has_parent:
        disk.parent = _open_parent(disk, opener, depth)
    return disk
