"""The base block of a primary file or of a transaction log: checksum and dirty state."""

from __future__ import annotations

import functools
import operator
import struct
from dataclasses import dataclass

from vhdfix.registry.regf_format import (
    BASE_BLOCK,
    CHECKSUMMED_SIZE,
    FILE_TYPE_PRIMARY,
    REGF_SIGNATURE,
    SECTOR_SIZE,
)

_CHECKSUM_WORDS = struct.Struct(f"<{CHECKSUMMED_SIZE // 4}I")


def checksum(block: bytes | bytearray | memoryview) -> int:
    """Checksum of a base block (regf spec, 'Base block', note 2).

    XOR of the 127 little-endian u32 at offsets 0-507; a result of 0xFFFFFFFF is
    stored as 0xFFFFFFFE and a result of 0 as 1.
    """
    value = functools.reduce(operator.xor, _CHECKSUM_WORDS.unpack_from(block), 0)
    if value == 0xFFFFFFFF:
        return 0xFFFFFFFE
    if value == 0:
        return 1
    return value


@dataclass(frozen=True)
class BaseBlock:
    """The fields of a base block that recovery and reading use."""

    signature: bytes
    primary_sequence_number: int
    secondary_sequence_number: int
    last_written_timestamp: int
    minor_version: int
    file_type: int
    root_cell_offset: int
    hive_bins_data_size: int
    flags: int
    checksum_valid: bool

    @property
    def valid(self) -> bool:
        """Signature and checksum are right: the fields can be trusted."""
        return self.signature == REGF_SIGNATURE and self.checksum_valid

    @property
    def is_dirty(self) -> bool:
        """regf spec, 'Dirty state of a hive': wrong checksum, or the two sequence numbers differ."""
        return self.primary_sequence_number != self.secondary_sequence_number or not self.checksum_valid


def read_base_block(data: bytes | bytearray | memoryview) -> BaseBlock:
    """Parse the first 512 bytes of ``data``; the caller checks that they exist."""
    if len(data) < SECTOR_SIZE:
        raise ValueError(f"a base block needs {SECTOR_SIZE} bytes, got {len(data)}")
    header = BASE_BLOCK.parse(data)
    return BaseBlock(
        signature=header.signature,
        primary_sequence_number=header.primary_sequence_number,
        secondary_sequence_number=header.secondary_sequence_number,
        last_written_timestamp=header.last_written_timestamp,
        minor_version=header.minor_version,
        file_type=header.file_type,
        root_cell_offset=header.root_cell_offset,
        hive_bins_data_size=header.hive_bins_data_size,
        flags=header.flags,
        checksum_valid=checksum(data) == header.checksum,
    )


def sealed_base_block(
    template: bytes | bytearray | memoryview,
    *,
    sequence_number: int,
    hive_bins_data_size: int,
    flags: int,
    root_cell_offset: int,
) -> bytes:
    """The first 512 bytes of a recovered primary file.

    ``template`` is the primary's base block, or a log's when the primary's is
    invalid. Both sequence numbers get ``sequence_number`` (the hive is clean
    again), the file type goes back to 0 (regf spec, 'Old format' / 'Base
    block', note 4) and the checksum is recomputed last.
    """
    block = bytearray(BASE_BLOCK.pack(
        BASE_BLOCK.parse(template),
        primary_sequence_number=sequence_number,
        secondary_sequence_number=sequence_number,
        hive_bins_data_size=hive_bins_data_size,
        flags=flags,
        root_cell_offset=root_cell_offset,
        file_type=FILE_TYPE_PRIMARY,
    ))
    struct.pack_into("<I", block, CHECKSUMMED_SIZE, checksum(block))
    return bytes(block)
