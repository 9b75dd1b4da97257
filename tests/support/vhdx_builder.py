"""Builds and edits VHDX files for tests, clean-room from [MS-VHDX].

qemu-img cannot create differencing VHDX files, VHDX logs, or files whose
payload blocks are stored out of virtual order, so the tests make their own.
Everything here is independent of vhdfix's reader: its own struct layouts, and
dissect.util's CRC-32C rather than vhdfix's, so that a shared mistake cannot
hide itself.
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dissect.util.hash.crc32c import crc32c  # pure Python, independent of vhdfix.disk.crc32c

MiB = 1 << 20
HEADER_OFFSETS = (64 * 1024, 128 * 1024)
REGION_TABLE_OFFSETS = (192 * 1024, 256 * 1024)
LOG_SECTOR = 4096

BAT_REGION = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
FILE_PARAMETERS = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
VIRTUAL_DISK_ID = uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
LOGICAL_SECTOR_SIZE = uuid.UUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
PHYSICAL_SECTOR_SIZE = uuid.UUID("CDA348C7-445D-4471-9CC9-E9885251C556")
PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
VHDX_LOCATOR_TYPE = uuid.UUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")

NOT_PRESENT, UNDEFINED, ZERO, UNMAPPED, FULLY_PRESENT, PARTIALLY_PRESENT = 0, 1, 2, 3, 6, 7
SB_PRESENT = 6


def crc_zeroed(data: bytes, at: int) -> int:
    """CRC-32C of ``data`` with the 4 bytes at ``at`` taken as zero."""
    copy = bytearray(data)
    copy[at:at + 4] = bytes(4)
    return crc32c(bytes(copy))


# --- reading the layout of an existing file ------------------------------------------------------


@dataclass
class Layout:
    header_slot: int  # 0 or 1: the current header
    header: bytes
    bat_offset: int
    bat_length: int
    metadata_offset: int
    block_size: int
    logical_sector_size: int
    virtual_size: int
    has_parent: bool

    @property
    def chunk_ratio(self) -> int:
        return (1 << 23) * self.logical_sector_size // self.block_size

    @property
    def data_blocks(self) -> int:
        return -(-self.virtual_size // self.block_size)

    @property
    def data_write_guid(self) -> uuid.UUID:
        return uuid.UUID(bytes_le=self.header[32:48])

    @property
    def log_offset(self) -> int:
        return struct.unpack_from("<Q", self.header, 72)[0]

    @property
    def log_length(self) -> int:
        return struct.unpack_from("<I", self.header, 68)[0]

    def bat_index(self, block: int) -> int:
        return block + block // self.chunk_ratio


def read_layout(f: BinaryIO) -> Layout:
    headers = []
    for offset in HEADER_OFFSETS:
        f.seek(offset)
        headers.append(f.read(4096))
    valid = [i for i, raw in enumerate(headers) if raw[:4] == b"head" and
             struct.unpack_from("<I", raw, 4)[0] == crc_zeroed(raw, 4)]
    slot = max(valid, key=lambda i: struct.unpack_from("<Q", headers[i], 8)[0])
    f.seek(REGION_TABLE_OFFSETS[0])
    table = f.read(65536)
    regions = {}
    for index in range(struct.unpack_from("<I", table, 8)[0]):
        raw = table[16 + 32 * index:48 + 32 * index]
        regions[uuid.UUID(bytes_le=raw[:16])] = struct.unpack_from("<QI", raw, 16)
    meta_at = regions[METADATA_REGION][0]
    f.seek(meta_at)
    meta = f.read(65536)
    items = {}
    for index in range(struct.unpack_from("<H", meta, 10)[0]):
        raw = meta[32 + 32 * index:64 + 32 * index]
        offset, length = struct.unpack_from("<II", raw, 16)
        f.seek(meta_at + offset)
        items[uuid.UUID(bytes_le=raw[:16])] = f.read(length)
    block_size, flags = struct.unpack("<II", items[FILE_PARAMETERS][:8])
    return Layout(slot, headers[slot], regions[BAT_REGION][0], regions[BAT_REGION][1], meta_at, block_size,
                  struct.unpack("<I", items[LOGICAL_SECTOR_SIZE][:4])[0],
                  struct.unpack("<Q", items[VIRTUAL_DISK_SIZE][:8])[0], bool(flags & 2))


def read_bat_entry(f: BinaryIO, layout: Layout, index: int) -> int:
    f.seek(layout.bat_offset + 8 * index)
    return struct.unpack("<Q", f.read(8))[0]


def write_bat_entry(f: BinaryIO, layout: Layout, index: int, state: int, offset_mb: int) -> None:
    f.seek(layout.bat_offset + 8 * index)
    f.write(struct.pack("<Q", state | offset_mb << 20))


def rewrite_header(f: BinaryIO, slot: int, edit: Callable[[bytearray], None]) -> None:
    """Apply ``edit`` to header ``slot`` (0 or 1) and store it with a fresh checksum."""
    _rewrite_checksummed(f, HEADER_OFFSETS[slot], 4096, edit)


def rewrite_region_table(f: BinaryIO, slot: int, edit: Callable[[bytearray], None]) -> None:
    _rewrite_checksummed(f, REGION_TABLE_OFFSETS[slot], 65536, edit)


def _rewrite_checksummed(f: BinaryIO, offset: int, size: int, edit: Callable[[bytearray], None]) -> None:
    """MS-VHDX 2.2.2 / 2.2.3: a header or region table carries a CRC-32C of itself at offset 4."""
    f.seek(offset)
    raw = bytearray(f.read(size))
    edit(raw)
    struct.pack_into("<I", raw, 4, crc_zeroed(bytes(raw), 4))
    f.seek(offset)
    f.write(raw)


# --- moving payload blocks ------------------------------------------------------------------------


def permute_payload_blocks(path: Path, seed: int) -> list[tuple[int, int, int]]:
    """Shuffle the file positions of all FULLY_PRESENT payload blocks in place and rewrite the BAT.

    Returns (block, old MiB, new MiB) for each block. The result is still a valid VHDX
    (``qemu-img check`` passes): the same slots are used, only their owners change.
    """
    with open(path, "r+b") as f:
        layout = read_layout(f)
        present = []
        for block in range(layout.data_blocks):
            entry = read_bat_entry(f, layout, layout.bat_index(block))
            if entry & 7 == FULLY_PRESENT:
                present.append((block, entry >> 20))
        slots = [offset for _, offset in present]
        shuffled = slots[:]
        rng = random.Random(seed)
        while len(slots) > 1 and shuffled == slots:
            rng.shuffle(shuffled)
        contents = {}
        for block, offset in present:
            f.seek(offset * MiB)
            contents[block] = f.read(layout.block_size)
        moves = []
        for (block, old), new in zip(present, shuffled, strict=True):
            f.seek(new * MiB)
            f.write(contents[block])
            write_bat_entry(f, layout, layout.bat_index(block), FULLY_PRESENT, new)
            moves.append((block, old, new))
        return moves


# --- building a file from scratch -----------------------------------------------------------------


@dataclass
class Block:
    """One payload block of a built file. ``data`` may be shorter than the block; the rest is zeros."""

    state: int
    data: bytes = b""
    present: frozenset[int] = frozenset()  # PARTIALLY_PRESENT: sectors stored in this file


@dataclass
class VhdxSpec:
    virtual_size: int
    block_size: int = MiB
    logical_sector_size: int = 512
    physical_sector_size: int = 4096
    blocks: dict[int, Block] = field(default_factory=dict)
    parent_locator: dict[str, str] | None = None  # set for a differencing file
    data_write_guid: uuid.UUID = field(default_factory=uuid.uuid4)
    leave_block_allocated: bool = False

    @property
    def chunk_ratio(self) -> int:
        return (1 << 23) * self.logical_sector_size // self.block_size


def _locator_item(pairs: dict[str, str]) -> bytes:
    head = bytearray(VHDX_LOCATOR_TYPE.bytes_le + struct.pack("<HH", 0, len(pairs)))
    strings = bytearray()
    entries = bytearray()
    base = 20 + 12 * len(pairs)
    for key, value in pairs.items():
        k, v = key.encode("utf-16-le"), value.encode("utf-16-le")
        entries += struct.pack("<IIHH", base + len(strings), base + len(strings) + len(k), len(k), len(v))
        strings += k + v
    return bytes(head + entries + strings)


def _metadata_region(spec: VhdxSpec) -> bytes:
    flags = (1 if spec.leave_block_allocated else 0) | (2 if spec.parent_locator is not None else 0)
    items = [(FILE_PARAMETERS, struct.pack("<II", spec.block_size, flags), 4),
             (VIRTUAL_DISK_SIZE, struct.pack("<Q", spec.virtual_size), 6),
             (VIRTUAL_DISK_ID, uuid.uuid4().bytes_le, 6),
             (LOGICAL_SECTOR_SIZE, struct.pack("<I", spec.logical_sector_size), 6),
             (PHYSICAL_SECTOR_SIZE, struct.pack("<I", spec.physical_sector_size), 6)]
    if spec.parent_locator is not None:
        items.append((PARENT_LOCATOR, _locator_item(spec.parent_locator), 4))
    region = bytearray(MiB)
    region[0:8] = b"metadata"
    struct.pack_into("<H", region, 10, len(items))
    cursor = 65536
    for index, (guid, value, item_flags) in enumerate(items):
        struct.pack_into("<16sIII", region, 32 + 32 * index, guid.bytes_le, cursor, len(value), item_flags)
        region[cursor:cursor + len(value)] = value
        cursor += len(value)
    return bytes(region)


def _header(sequence: int, data_write_guid: uuid.UUID, log_guid: uuid.UUID | None = None) -> bytes:
    raw = bytearray(4096)
    raw[0:4] = b"head"
    struct.pack_into("<Q16s16s16sHHIQ", raw, 8, sequence, uuid.uuid4().bytes_le, data_write_guid.bytes_le,
                     (log_guid or uuid.UUID(int=0)).bytes_le, 0, 1, MiB, MiB)
    struct.pack_into("<I", raw, 4, crc_zeroed(bytes(raw), 4))
    return bytes(raw)


def _region_table(regions: list[tuple[uuid.UUID, int, int]]) -> bytes:
    raw = bytearray(65536)
    raw[0:4] = b"regi"
    struct.pack_into("<I", raw, 8, len(regions))
    for index, (guid, offset, length) in enumerate(regions):
        struct.pack_into("<16sQII", raw, 16 + 32 * index, guid.bytes_le, offset, length, 1)
    struct.pack_into("<I", raw, 4, crc_zeroed(bytes(raw), 4))
    return bytes(raw)


def write_vhdx(path: Path, spec: VhdxSpec, order: list[int] | None = None) -> None:
    """A dynamic (or, with ``parent_locator``, differencing) VHDX holding ``spec.blocks``.

    Payload blocks are stored in ``order`` (default: ascending), then one sector bitmap block
    per chunk that has a PARTIALLY_PRESENT block. Sectors of a partial block's ``data`` that are
    not present are stored as 0xEE so that reading them by mistake shows.
    """
    differencing = spec.parent_locator is not None
    ratio = spec.chunk_ratio
    data_blocks = -(-spec.virtual_size // spec.block_size)
    total = -(-data_blocks // ratio) * (ratio + 1) if differencing else data_blocks + (data_blocks - 1) // ratio
    bat_length = max(MiB, -(-total * 8 // MiB) * MiB)
    log_at, meta_at, bat_at = MiB, 2 * MiB, 3 * MiB
    cursor = bat_at + bat_length
    bat = [0] * total
    sector_bitmaps: dict[int, bytearray] = {}
    sectors_per_block = spec.block_size // spec.logical_sector_size
    with open(path, "wb") as f:
        f.write(b"vhdxfile" + "vhdfix test builder".encode("utf-16-le"))
        f.seek(HEADER_OFFSETS[0])
        f.write(_header(1, spec.data_write_guid))
        f.seek(HEADER_OFFSETS[1])
        f.write(_header(2, spec.data_write_guid))
        table = _region_table([(METADATA_REGION, meta_at, MiB), (BAT_REGION, bat_at, bat_length)])
        for offset in REGION_TABLE_OFFSETS:
            f.seek(offset)
            f.write(table)
        f.seek(meta_at)
        f.write(_metadata_region(spec))
        stored = sorted(block for block, item in spec.blocks.items() if item.state in (FULLY_PRESENT,
                                                                                        PARTIALLY_PRESENT))
        assert order is None or sorted(order) == stored
        for block, item in spec.blocks.items():
            bat[block + block // ratio] = item.state
        for block in order if order is not None else stored:
            item = spec.blocks[block]
            bat[block + block // ratio] = item.state | (cursor // MiB) << 20
            data = item.data
            if item.state == PARTIALLY_PRESENT:
                data = bytearray(data)
                for sector in range(-(-len(data) // spec.logical_sector_size)):
                    if sector not in item.present:
                        at = sector * spec.logical_sector_size
                        data[at:at + spec.logical_sector_size] = b"\xee" * spec.logical_sector_size
                data = data[:len(item.data)]
                bitmap = sector_bitmaps.setdefault(block // ratio, bytearray(MiB))
                for sector in item.present:
                    bit = (block % ratio) * sectors_per_block + sector
                    bitmap[bit // 8] |= 1 << (bit % 8)  # §2.4: bit 0 of byte 0 is the first sector
            f.seek(cursor)
            f.write(data)
            cursor += spec.block_size
        for chunk, bitmap in sorted(sector_bitmaps.items()):
            bat[chunk * (ratio + 1) + ratio] = SB_PRESENT | (cursor // MiB) << 20
            f.seek(cursor)
            f.write(bitmap)
            cursor += MiB
        f.seek(bat_at)
        f.write(struct.pack(f"<{total}Q", *bat))
        f.truncate(max(cursor, log_at + MiB))


def merged_reader(spec: VhdxSpec, parent: Callable[[int, int], bytes] | None) -> Callable[[int, int], bytes]:
    """What a correct reader returns for the file built from ``spec``, given its parent's bytes.

    Written sector by sector, the slow obvious way, as the test's expectation.
    """
    sector = spec.logical_sector_size

    def read_sector(number: int) -> bytes:
        block, within = divmod(number * sector, spec.block_size)
        item = spec.blocks.get(block, Block(NOT_PRESENT))
        stored = item.data[within:within + sector].ljust(sector, b"\0")
        if item.state == FULLY_PRESENT:
            return stored
        if item.state == PARTIALLY_PRESENT and within // sector in item.present:
            return stored
        if item.state in (NOT_PRESENT, PARTIALLY_PRESENT) and parent is not None:
            return parent(number * sector, sector)
        return bytes(sector)

    def read(offset: int, length: int) -> bytes:
        end = min(offset + length, spec.virtual_size)
        if offset >= end:
            return b""
        first, last = offset // sector, (end - 1) // sector
        data = b"".join(read_sector(number) for number in range(first, last + 1))
        return data[offset - first * sector:end - first * sector]

    return read


# --- the log ---------------------------------------------------------------------------------------


@dataclass
class LogWrite:
    """A data descriptor (``data`` is one 4 KiB sector) or a zero descriptor (``zero_length``)."""

    file_offset: int
    data: bytes | None = None
    zero_length: int = 0


@dataclass
class LogEntrySpec:
    position: int  # byte offset in the log
    sequence_number: int
    tail: int
    writes: list[LogWrite]
    flushed_file_offset: int
    last_file_offset: int
    log_guid: uuid.UUID | None = None  # default: the file's
    corrupt_checksum: bool = False


def log_entry_bytes(entry: LogEntrySpec, log_guid: uuid.UUID) -> bytes:
    """One log entry (§2.3.1): header, descriptors, then one data sector per data descriptor."""
    sequence = entry.sequence_number
    descriptors = bytearray()
    data_sectors = bytearray()
    for write in entry.writes:
        if write.data is None:
            descriptors += b"zero" + struct.pack("<IQQQ", 0, write.zero_length, write.file_offset, sequence)
        else:
            assert len(write.data) == LOG_SECTOR
            descriptors += b"desc" + write.data[4092:4096] + write.data[0:8] + \
                struct.pack("<QQ", write.file_offset, sequence)
            data_sectors += b"data" + struct.pack("<I", sequence >> 32) + write.data[8:4092] + \
                struct.pack("<I", sequence & 0xFFFFFFFF)
    head_length = 64 + len(descriptors)
    descriptor_part = -(-head_length // LOG_SECTOR) * LOG_SECTOR
    length = descriptor_part + len(data_sectors)
    raw = bytearray(length)
    raw[0:4] = b"loge"
    struct.pack_into("<IIQII16sQQ", raw, 8, length, entry.tail, sequence, len(entry.writes), 0,
                     (entry.log_guid or log_guid).bytes_le, entry.flushed_file_offset, entry.last_file_offset)
    raw[64:64 + len(descriptors)] = descriptors
    raw[descriptor_part:] = data_sectors
    checksum = crc_zeroed(bytes(raw), 4) ^ (0xFFFFFFFF if entry.corrupt_checksum else 0)
    struct.pack_into("<I", raw, 4, checksum)
    return bytes(raw)


def write_log(path: Path, entries: list[LogEntrySpec], log_guid: uuid.UUID) -> None:
    """Store ``entries`` in the file's log (wrapping round its end) and make ``log_guid`` current."""
    with open(path, "r+b") as f:
        layout = read_layout(f)
        offset, length = layout.log_offset, layout.log_length
        for entry in entries:
            raw = log_entry_bytes(entry, log_guid)
            for done in range(0, len(raw), LOG_SECTOR):
                f.seek(offset + (entry.position + done) % length)
                f.write(raw[done:done + LOG_SECTOR])
        for slot in (0, 1):
            rewrite_header(f, slot, lambda raw: raw.__setitem__(slice(48, 64), log_guid.bytes_le))
