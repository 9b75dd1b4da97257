"""Apply byte patches (virtual-disk offsets) to an existing copy, through the copy's own container format.

write-path.md §2 step 4 and §8:

* raw and fixed VHD: the file offset is the disk offset (a fixed VHD's footer
  is never touched);
* dynamic VHD: through the BAT, past the block's sector bitmap; the block must
  be allocated and every sector written must already have its bitmap bit set
  (vhdfix only rewrites sectors that hold data);
* VHDX (dynamic or fixed): only into FULLY_PRESENT payload blocks, at
  ``FileOffsetMB * 1 MiB + offset in block``; before the first data byte is
  written both headers are updated as qemu does (``vhdx_update_headers``):
  the inactive header gets sequence number + 1, a new FileWriteGuid (one per
  session) and a new DataWriteGuid, with its CRC-32C, then the same again for
  the other header, so both are current and valid. The active header is the
  template of both writes. The log must be empty;
* differencing images are refused: the copy engine writes a flattened copy.

Every patch is split at container block boundaries, and its ``old`` bytes
are compared with the copy before anything is written: the whole batch is
refused when one differs.
"""

from __future__ import annotations

import itertools
import os
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vhdfix.disk import open_disk
from vhdfix.disk.container import Container
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.disk.raw import RawDisk
from vhdfix.disk.vhd import FixedVhd, SparseVhd
from vhdfix.disk.vhd_format import SECTOR
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.disk.vhdx_format import HEADER, HEADER_CHECKSUM_OFFSET, HEADER_OFFSETS, HEADER_SIZE
from vhdfix.errors import OldBytesMismatch, TargetNotAllocated, UnsupportedFormat
from vhdfix.plan import BytePatch
from vhdfix.writer.gates import check_container

_SEQUENCE_AT = HEADER.fields["sequence_number"].offset
_FILE_WRITE_GUID_AT = HEADER.fields["file_write_guid"].offset
_DATA_WRITE_GUID_AT = HEADER.fields["data_write_guid"].offset


@dataclass(frozen=True)
class FilePiece:
    file_offset: int
    virtual_offset: int
    length: int


def _not_allocated(disk: Container, offset: int, why: str) -> TargetNotAllocated:
    return TargetNotAllocated(f"{disk.image.path.name}: virtual offset {offset} {why}; vhdfix writes only into "
                              "space the image already stores. Convert the disk to a fixed VHD first (for example "
                              "'qemu-img convert -O vpc -o subformat=fixed') and repair that")


def _sparse_vhd_pieces(disk: SparseVhd, offset: int, length: int) -> list[FilePiece]:
    pieces = []
    while length:
        block, within = divmod(offset, disk.block_size)
        take = min(length, disk.block_size - within)
        data_at = disk.block_data_offset(block)
        if data_at is None:
            raise _not_allocated(disk, offset, f"lies in dynamic VHD block {block}, which is not allocated")
        bitmap = disk.image.read_exact(disk.bat[block] * SECTOR, disk.bitmap_size, f"sector bitmap of block {block}")
        for sector in range(within // SECTOR, (within + take - 1) // SECTOR + 1):
            if not bitmap[sector >> 3] & (0x80 >> (sector & 7)):  # MSB first (write-path.md §8.2)
                raise _not_allocated(disk, offset, f"lies in sector {sector} of block {block}, whose sector-bitmap "
                                                   "bit is clear")
        pieces.append(FilePiece(data_at + within, offset, take))
        offset += take
        length -= take
    return pieces


def _vhdx_pieces(disk: VhdxDisk, offset: int, length: int) -> list[FilePiece]:
    pieces = []
    while length:
        extent = disk.file_extent(offset)
        if extent is None:
            raise _not_allocated(disk, offset, f"lies in VHDX block {offset // disk.block_size}, which is not "
                                               "fully present")
        file_offset, available = extent
        take = min(length, available)
        pieces.append(FilePiece(file_offset, offset, take))
        offset += take
        length -= take
    return pieces


def map_for_write(disk: Container, offset: int, length: int) -> list[FilePiece]:
    """Where ``length`` bytes at virtual ``offset`` are stored in ``disk``'s file, split at block boundaries."""
    if offset < 0 or offset + length > disk.virtual_size:
        raise _not_allocated(disk, offset, "lies outside the virtual disk")
    if isinstance(disk, (RawDisk, FixedVhd)):
        return [FilePiece(offset, offset, length)]
    if isinstance(disk, SparseVhd):
        return _sparse_vhd_pieces(disk, offset, length)
    if isinstance(disk, VhdxDisk):
        return _vhdx_pieces(disk, offset, length)
    raise UnsupportedFormat(f"{disk.image.path.name}: vhdfix writes raw, VHD and VHDX files only; convert a "
                            f"{disk.info.format.upper()} disk to VHD first")


def _updated_header(template: bytes, sequence: int, file_write_guid: bytes) -> bytes:
    header = bytearray(template)
    struct.pack_into("<Q", header, _SEQUENCE_AT, sequence)
    header[_FILE_WRITE_GUID_AT:_FILE_WRITE_GUID_AT + 16] = file_write_guid
    header[_DATA_WRITE_GUID_AT:_DATA_WRITE_GUID_AT + 16] = uuid.uuid4().bytes_le
    struct.pack_into("<I", header, HEADER_CHECKSUM_OFFSET, checksum_with_field_zeroed(header, HEADER_CHECKSUM_OFFSET))
    return bytes(header)


def _update_vhdx_headers(handle: int, active_slot: int, template: bytes) -> None:
    """qemu's ``vhdx_update_headers``: the inactive header first, then the other one."""
    session = uuid.uuid4().bytes_le
    sequence = struct.unpack_from("<Q", template, _SEQUENCE_AT)[0]
    inactive = 2 if active_slot == 1 else 1
    for step, slot in enumerate((inactive, active_slot), 1):
        _write_all(handle, _updated_header(template, sequence + step, session), HEADER_OFFSETS[slot - 1])
        os.fsync(handle)


def _write_all(handle: int, data: bytes, offset: int) -> None:
    while data:
        written = os.pwrite(handle, data, offset)
        data, offset = data[written:], offset + written


def apply_patches(copy_path: str | os.PathLike[str], patches: Sequence[BytePatch],
                  original: str | os.PathLike[str] | None = None) -> int:
    """Write ``patches`` into the disk image at ``copy_path``; return the number of bytes written.

    ``copy_path`` must be a copy: when ``original`` (the input disk) is given and is the same file, nothing is
    written. Every check (container, allocation, old bytes) passes before the first byte is written.
    """
    copy = Path(copy_path)
    if original is not None and os.path.samefile(copy, original):
        raise ValueError(f"{copy} is the input disk itself; patches are only ever applied to a copy")
    ordered = sorted(patches, key=lambda p: p.offset)
    for before, after in itertools.pairwise(ordered):
        if after.offset < before.end:
            raise ValueError(f"patches overlap at virtual offset {after.offset}")
    writes: list[tuple[int, bytes]] = []
    disk = open_disk(copy)
    try:
        check_container(disk)
        for patch in ordered:
            if disk.read(patch.offset, len(patch.old)) != patch.old:
                raise OldBytesMismatch(f"{copy.name}: the bytes at virtual offset {patch.offset} are not the ones the "
                                       f"plan was made from ({patch.reason}); make a fresh copy of the input and plan "
                                       "again")
            for piece in map_for_write(disk, patch.offset, len(patch.new)):
                start = piece.virtual_offset - patch.offset
                writes.append((piece.file_offset, patch.new[start:start + piece.length]))
        header = None
        if isinstance(disk, VhdxDisk) and writes:
            slot = disk.header_slot
            header = (slot, disk.image.read_exact(HEADER_OFFSETS[slot - 1], HEADER_SIZE, "VHDX header"))
    finally:
        disk.close()
    handle = os.open(copy, os.O_RDWR)
    try:
        if header is not None:
            _update_vhdx_headers(handle, *header)
        for file_offset, data in writes:
            _write_all(handle, data, file_offset)
        os.fsync(handle)
    finally:
        os.close(handle)
    return sum(len(data) for _, data in writes)
