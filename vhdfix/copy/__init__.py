"""The copy engine: a disk's allocated data, with a plan's byte patches spliced in, written once as a new
raw, fixed VHD, dynamic VHD or VHDX image, atomically, or as a fixed VHD into a page blob."""

from vhdfix.copy.blob_output import BlobOutput
from vhdfix.copy.digests import BlockDigests
from vhdfix.copy.engine import (
    TARGET_FORMATS,
    CopyResult,
    Target,
    copy_disk,
    refuse_overwriting_input,
    resolve_blob_target,
    resolve_target,
)
from vhdfix.copy.progress import CopyProgress, JsonProgress, ProgressCallback, TerminalProgress

__all__ = ["TARGET_FORMATS", "BlobOutput", "BlockDigests", "CopyProgress", "CopyResult", "JsonProgress",
           "ProgressCallback", "Target", "TerminalProgress", "copy_disk", "refuse_overwriting_input",
           "resolve_blob_target", "resolve_target"]
