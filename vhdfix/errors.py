"""The one error hierarchy of vhdfix.

Every failure a user can meet is a :class:`VhdfixError` with a stable string
``code`` and a one-line message. Raw library and OS exceptions never leave
vhdfix: the code that calls a library wraps the call in
:func:`foreign_errors`, which turns whatever the library raises into one of
these.

The tree (``code`` in brackets)::

    VhdfixError [error]
    ├── InputError [input-error]: the disk, or something read from it, is missing, damaged or unsupported
    │   ├── the file and its container: InputNotFound, InputUnreadable, NotADiskImage, UnsupportedFormat,
    │   │   Truncated, BadChecksum, CorruptContainer, ParentMissing, ParentMismatch, ParentLoop,
    │   │   VhdxLogPending, VhdxLogInvalid
    │   ├── a disk in Azure Storage (vhdfix.remote): RemoteUrlInvalid, RemoteSupportMissing, RemoteNotFound,
    │   │   RemoteAuthFailed, RemoteUnreachable, RemoteThrottled, RemoteChanged
    │   ├── partitions and volumes: NoPartitionTable, CorruptPartitionTable, EncryptedVolume,
    │   │   NoWindowsVolume, CorruptVolume
    │   ├── an input opened through dissect.target (vhdfix.fallback): DissectFailed, FallbackTooLarge
    │   └── the registry: HiveCorrupt, HiveLogInvalid, HiveMissing
    ├── TimeBudgetExceeded [time-budget-exceeded]: the disk took too long; it ends the whole disk, so code that
    │   turns a damaged file into a warning (which catches InputError) never swallows it
    ├── ArticleInvalid [article-invalid]: a file in articles/ does not follow the schema
    ├── InternalError [internal-error]: a defect in vhdfix, reported with the same contract
    ├── RefusedUnsafe [refused-unsafe]: the writer will not make a change (``repair`` exit 4); one subclass
    │   per gate, from VhdxLogPresent to VerificationFailed
    ├── RepairUsageError [repair-usage]: the request cannot be carried out as given (exit 2): OutputExists,
    │   OutputIsInput, OutputInvalid, FormatNotAvailable, StepNotInRemedy, DiagnosisTied,
    │   FallbackNotRepairable; a destination blob of the wrong size: RemoteTooSmall, RemoteSizeMismatch
    └── OutputError [output-error]: the output could not be written (exit 5): OutputFull, RemoteWriteFailed (a
        destination blob: its message names the remote cause's code)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

MESSAGE_LIMIT = 300  # characters of a foreign exception's text kept in our message


class VhdfixError(Exception):
    """Base class. ``code`` is part of the public contract (JSON, exit codes)."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@contextmanager
def foreign_errors(error: type[VhdfixError], what: str,
                   foreign: type[BaseException] | tuple[type[BaseException], ...] = Exception) -> Iterator[None]:
    """Turn every ``foreign`` exception raised in the block (a library's, the OS's, Python's) into ``error``.

    Our own errors pass through unchanged. The message is ``what``, then the cause: an OS error's text, "structure
    nests too deeply" for a RecursionError, else the exception's type and text. dissect and regipy raise anything
    from ``struct.error`` and ``EOFError`` to their own classes on damaged input, so the default is every
    ``Exception``.
    """
    try:
        yield
    except VhdfixError:
        raise
    except foreign as exc:
        if isinstance(exc, RecursionError):
            cause = "structure nests too deeply"
        elif isinstance(exc, OSError) and exc.strerror:
            cause = exc.strerror
        else:
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise error(f"{what}: {cause}"[:MESSAGE_LIMIT]) from None


# --- the input disk ---------------------------------------------------------------


class InputError(VhdfixError):
    """The disk, or something read from it, is missing, damaged or unsupported."""

    code = "input-error"


class InputNotFound(InputError):
    code = "input-not-found"


class InputUnreadable(InputError):
    code = "input-unreadable"


class NotADiskImage(InputError):
    code = "not-a-disk-image"


class UnsupportedFormat(InputError):
    code = "unsupported-format"


class Truncated(InputError):
    code = "truncated"


class BadChecksum(InputError):
    code = "bad-checksum"


class CorruptContainer(InputError):
    """A container structure is inconsistent (bounds, sizes, overlapping tables)."""

    code = "corrupt-container"


class ParentMissing(InputError):
    code = "parent-missing"


class ParentMismatch(InputError):
    code = "parent-mismatch"


class ParentLoop(InputError):
    code = "parent-loop"


class VhdxLogPending(InputError):
    """A VHDX log holds updates that could not be replayed in memory."""

    code = "vhdx-log-pending"


class VhdxLogInvalid(InputError):
    code = "vhdx-log-invalid"


# --- a disk in Azure Storage (vhdfix.remote) ------------------------------------------------------------------
# Messages name the blob by its URL without the query string: a SAS token is a credential.


class RemoteUrlInvalid(InputError):
    """Not a blob URL vhdfix will use: malformed, or plain http to a host that is not a loopback address."""

    code = "remote-url-invalid"


class RemoteSupportMissing(InputError):
    """A URL was given but the optional Azure SDK (``pip install 'vhdfix[azure]'``) is not installed."""

    code = "remote-support-missing"


class RemoteNotFound(InputError):
    code = "remote-not-found"


class RemoteAuthFailed(InputError):
    """The server refused the credentials: a wrong or expired SAS, a wrong key, no sign-in."""

    code = "remote-auth-failed"


class RemoteUnreachable(InputError):
    """No answer from the server: connection refused or reset, a timeout, after the retries."""

    code = "remote-unreachable"


class RemoteThrottled(InputError):
    """The server kept answering "busy" (HTTP 429/503) after the retries."""

    code = "remote-throttled"


class RemoteChanged(InputError):
    """The blob changed while vhdfix read it (its ETag is not the one it had when it was opened)."""

    code = "remote-changed"


# --- partitions and volumes ----------------------------------------------------


class NoPartitionTable(InputError):
    code = "no-partition-table"


class CorruptPartitionTable(InputError):
    code = "corrupt-partition-table"


class EncryptedVolume(InputError):
    code = "encrypted-volume"


class NoWindowsVolume(InputError):
    code = "no-windows-volume"


class CorruptVolume(InputError):
    code = "corrupt-volume"


# --- an input only dissect.target opens (vhdfix.fallback) ---------------------------------------------------------


class DissectFailed(InputError):
    """dissect.target raised while opening the input or reading a file from it."""

    code = "dissect-failed"


class FallbackTooLarge(InputError):
    """The input exceeds a bound checked before dissect.target is let to open it (an archive's entry count)."""

    code = "fallback-too-large"


# --- registry ---------------------------------------------------------------------


class HiveCorrupt(InputError):
    code = "hive-corrupt"


class HiveLogInvalid(InputError):
    code = "hive-log-invalid"


class HiveMissing(InputError):
    code = "hive-missing"


# --- hostile input -----------------------------------------------------------------------------------------------


class TimeBudgetExceeded(VhdfixError):
    """Inspecting one disk took longer than its time budget (a crafted or badly damaged structure).

    Not an :class:`InputError`: it ends the whole disk, wherever it is raised."""

    code = "time-budget-exceeded"


# --- articles ----------------------------------------------------------------------


class ArticleInvalid(VhdfixError):
    """A file in ``articles/`` does not follow the article schema."""

    code = "article-invalid"


# --- anything else -------------------------------------------------------------------


class InternalError(VhdfixError):
    """A defect in vhdfix itself; reported with the same contract instead of a traceback."""

    code = "internal-error"


# --- writing into a copy (vhdfix.writer): refusals ---------------------------------------------------------------


class RefusedUnsafe(VhdfixError):
    """vhdfix will not write this change: it cannot be done exactly, or Windows could undo or corrupt it.

    Nothing has been written when this is raised. ``vhdfix repair`` exits 4 for every subclass.
    """

    code = "refused-unsafe"


class VhdxLogPresent(RefusedUnsafe):
    code = "vhdx-log-present"


class DifferencingTarget(RefusedUnsafe):
    code = "differencing-target"


class TargetNotAllocated(RefusedUnsafe):
    code = "target-not-allocated"


class LogFileUnclean(RefusedUnsafe):
    code = "logfile-unclean"


class LogFileFastStartup(RefusedUnsafe):
    code = "logfile-fast-startup"


class LogFileUnknown(RefusedUnsafe):
    """No valid restart page in a non-empty ``$LogFile``, or a restart page version other than 1.1 / 2.0."""

    code = "logfile-unknown"


class VolumeDirty(RefusedUnsafe):
    code = "volume-dirty"


class VolumeHibernated(RefusedUnsafe):
    code = "volume-hibernated"


class HiveDirty(RefusedUnsafe):
    code = "hive-dirty"


class HiveRecoveredImageTooLarge(RefusedUnsafe):
    code = "hive-recovered-image-too-large"


class HiveNoFreeSpace(RefusedUnsafe):
    """A new value needs cells that no free cell of the hive's existing bins can hold; vhdfix never grows a hive."""

    code = "hive-no-free-space"


class HiveShapeUnsupported(RefusedUnsafe):
    """A key or list shape vhdfix cannot change exactly (a key with subkeys, a leaf of an index root emptied)."""

    code = "hive-shape-unsupported"


class TargetCompressed(RefusedUnsafe):
    code = "target-compressed"


class TargetSparse(RefusedUnsafe):
    code = "target-sparse"


class EncryptedFile(RefusedUnsafe):
    code = "encrypted-file"


class IndexNodeEntry(RefusedUnsafe):
    code = "index-node-entry"


class IndexLastEntry(RefusedUnsafe):
    code = "index-last-entry"


class StaleIndexEntry(RefusedUnsafe):
    """An index entry (``$I30``, ``$ObjId:$O``, ``$Reparse:$R``) and the record it names disagree (sequence
    number, name, object id, reparse tag or count)."""

    code = "stale-index-entry"


class HardLink(RefusedUnsafe):
    code = "hard-link"


class AttributeList(RefusedUnsafe):
    code = "attribute-list"


class ObjectId(RefusedUnsafe):
    """The file's ``$OBJECT_ID`` cannot be looked up in ``$ObjId:$O`` (more than one, or too short)."""

    code = "object-id"


class ReparsePoint(RefusedUnsafe):
    """The file's ``$REPARSE_POINT`` cannot be looked up in ``$Reparse:$R`` (more than one, or too short)."""

    code = "reparse-point"


class ExtendedAttributes(RefusedUnsafe):
    """EAs or a ``$LOGGED_UTILITY_STREAM`` (TxF, EFS): side structures the delete would leave behind."""

    code = "extended-attributes"


class QuotaCharged(RefusedUnsafe):
    code = "quota-charged"


class IsDirectory(RefusedUnsafe):
    code = "is-directory"


class TornFixup(RefusedUnsafe):
    code = "torn-fixup"


class ValueNotFound(RefusedUnsafe):
    """Setting a value that does not exist would need a new cell; vhdfix edits existing values only."""

    code = "value-not-found"


class ValueTypeMismatch(RefusedUnsafe):
    code = "value-type-mismatch"


class ValueTooLong(RefusedUnsafe):
    code = "value-too-long"


class OldBytesMismatch(RefusedUnsafe):
    """The copy does not hold the bytes the plan was made from: it is not a copy of the planned input."""

    code = "old-bytes-mismatch"


class VerificationFailed(RefusedUnsafe):
    """The written copy failed vhdfix's own re-read checks; the caller must discard it."""

    code = "verification-failed"


# --- vhdfix repair: the command, the copy engine and the output file ---------------------------------------------
# Exit codes of ``vhdfix repair``: RepairUsageError 2, RefusedUnsafe 4, OutputError 5.


class RepairUsageError(VhdfixError):
    """The request cannot be carried out as given."""

    code = "repair-usage"


class OutputExists(RepairUsageError):
    code = "output-exists"


class OutputIsInput(RepairUsageError):
    """OUT is the input disk or one of its parents."""

    code = "output-is-input"


class OutputInvalid(RepairUsageError):
    """OUT is a directory, or its directory does not exist."""

    code = "output-invalid"


class FormatNotAvailable(RepairUsageError):
    code = "format-not-available"


class StepNotInRemedy(RepairUsageError):
    """An extended step was asked for that the diagnosed article's remedy does not have."""

    code = "step-not-in-remedy"


class DiagnosisTied(RepairUsageError):
    """Tied articles would write different things: the screen text must say which one the VM shows."""

    code = "diagnosis-tied"


class FallbackNotRepairable(RepairUsageError):
    """The input was opened only through dissect.target: vhdfix writes only disk images it reads itself."""

    code = "fallback-not-repairable"


class RemoteTooSmall(RepairUsageError):
    """The destination page blob is smaller than the repaired fixed VHD (a managed disk's size is fixed)."""

    code = "remote-too-small"


class RemoteSizeMismatch(RepairUsageError):
    """The destination page blob is larger than the repaired fixed VHD: a VHD's footer must be its last 512 bytes."""

    code = "remote-size-mismatch"


class OutputError(VhdfixError):
    """The output file could not be written (I/O error); nothing is left behind."""

    code = "output-error"


class OutputFull(OutputError):
    code = "output-full"


class RemoteWriteFailed(OutputError):
    """Writing the destination blob failed (refused, unreachable, throttled after the retries)."""

    code = "remote-write-failed"
