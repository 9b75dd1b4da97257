"""The one error hierarchy of vhdfix.

Every failure a user can meet is a :class:`VhdfixError` with a stable string
``code`` and a one-line message. Raw library exceptions never leave vhdfix:
the layer that calls a library translates them into one of these.
"""

from __future__ import annotations


class VhdfixError(Exception):
    """Base class. ``code`` is part of the public contract (JSON, exit codes)."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# --- input file -------------------------------------------------------------


class InputNotFound(VhdfixError):
    code = "input-not-found"


class InputUnreadable(VhdfixError):
    code = "input-unreadable"


class NotADiskImage(VhdfixError):
    code = "not-a-disk-image"


class UnsupportedFormat(VhdfixError):
    code = "unsupported-format"


class Truncated(VhdfixError):
    code = "truncated"


class BadChecksum(VhdfixError):
    code = "bad-checksum"


class CorruptContainer(VhdfixError):
    """A container structure is inconsistent (bounds, sizes, overlapping tables)."""

    code = "corrupt-container"


class ParentMissing(VhdfixError):
    code = "parent-missing"


class ParentMismatch(VhdfixError):
    code = "parent-mismatch"


class ParentLoop(VhdfixError):
    code = "parent-loop"


class VhdxLogPending(VhdfixError):
    """A VHDX log holds updates that could not be replayed in memory."""

    code = "vhdx-log-pending"


class VhdxLogInvalid(VhdfixError):
    code = "vhdx-log-invalid"


# --- partitions and volumes ----------------------------------------------------


class NoPartitionTable(VhdfixError):
    code = "no-partition-table"


class CorruptPartitionTable(VhdfixError):
    code = "corrupt-partition-table"


class EncryptedVolume(VhdfixError):
    code = "encrypted-volume"


class NoWindowsVolume(VhdfixError):
    code = "no-windows-volume"


class CorruptVolume(VhdfixError):
    code = "corrupt-volume"


# --- registry ---------------------------------------------------------------------


class HiveCorrupt(VhdfixError):
    code = "hive-corrupt"


class HiveLogInvalid(VhdfixError):
    code = "hive-log-invalid"


class HiveMissing(VhdfixError):
    code = "hive-missing"


# --- articles ----------------------------------------------------------------------


class ArticleInvalid(VhdfixError):
    """A file in ``articles/`` does not follow the article schema."""

    code = "article-invalid"


# --- anything else -------------------------------------------------------------------


class InternalError(VhdfixError):
    """A defect in vhdfix itself; reported with the same contract instead of a traceback."""

    code = "internal-error"
