"""Transaction log files (.LOG, .LOG1, .LOG2): base block validation and per-log reports."""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.errors import HiveLogInvalid
from vhdfix.registry.base_block import BaseBlock, read_base_block
from vhdfix.registry.regf_format import (
    FILE_TYPE_LOG_NEW,
    FILE_TYPE_LOG_OLD,
    HIVE_BIN_ALIGNMENT,
    REGF_SIGNATURE,
    SECTOR_SIZE,
)


@dataclass(frozen=True)
class TransactionLog:
    """A log whose base block passed validation."""

    name: str
    data: bytes
    base_block: BaseBlock

    @property
    def is_new_format(self) -> bool:
        return self.base_block.file_type == FILE_TYPE_LOG_NEW


@dataclass(frozen=True)
class LogReport:
    """What recovery did with one log file.

    ``status`` is ``applied``, ``unused`` (valid, but not applicable or not
    needed), ``rejected`` (invalid) or ``empty``.
    """

    name: str
    status: str
    detail: str
    entries_applied: int = 0

    def __str__(self) -> str:
        return f"{self.name} {self.status}: {self.detail}"


def validate_log(name: str, data: bytes) -> TransactionLog:
    """Check the base block of a log file; raise :class:`HiveLogInvalid` whose message is the reason.

    regf spec, 'Old format' / 'Base block', note 2 (also used by the new
    format, whose base block is written "in the same way"): a log is valid when
    it has the expected base block (signature, checksum, a log file type) and
    its two sequence numbers are equal.
    """
    if len(data) < SECTOR_SIZE:
        raise HiveLogInvalid(f"{len(data)} bytes, shorter than a base block")
    base = read_base_block(data)
    if base.signature != REGF_SIGNATURE:
        raise HiveLogInvalid(f"bad signature {base.signature!r}")
    if not base.checksum_valid:
        raise HiveLogInvalid("bad checksum")
    if base.file_type not in (FILE_TYPE_LOG_OLD, FILE_TYPE_LOG_NEW):
        raise HiveLogInvalid(f"file type {base.file_type} is not a transaction log")
    if base.primary_sequence_number != base.secondary_sequence_number:
        raise HiveLogInvalid(f"sequence numbers differ ({base.primary_sequence_number}/"
                             f"{base.secondary_sequence_number}), the log was being written")
    if base.hive_bins_data_size == 0 or base.hive_bins_data_size % HIVE_BIN_ALIGNMENT:
        raise HiveLogInvalid(f"bad hive bins data size {base.hive_bins_data_size}")
    return TransactionLog(name=name, data=data, base_block=base)
