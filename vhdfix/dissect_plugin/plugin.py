"""The ``vhdfix`` namespace plugin of dissect.target: ``vhdfix.diagnose``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dissect.target.exceptions import UnsupportedPluginError
from dissect.target.plugin import Plugin, export

from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.opener import detect_format
from vhdfix.dissect_plugin.records import DiagnosisRecord, EvidenceRecord, inspection_records
from vhdfix.errors import VhdfixError
from vhdfix.fallback import from_target, has_windows
from vhdfix.fallback.target import OWN_FORMAT_SUFFIXES
from vhdfix.inspection import Inspection, inspect, inspect_target

if TYPE_CHECKING:
    from dissect.target import Target
    from flow.record import Record


def own_disk_image(target: Target) -> Path | None:
    """The target's path when it is a disk image vhdfix reads itself (VHD, VHDX, raw, VMDK, QCOW2), or is named as
    one (vhdfix's verdict on it stands: dissect's readers of these formats are the defective ones), else None."""
    path = target.path
    if path is None or not os.path.isfile(path):
        return None
    if Path(path).suffix.lower() in OWN_FORMAT_SUFFIXES:
        return Path(path)
    try:
        image = ImageFile(Path(path))
        try:
            detect_format(image)
        finally:
            image.close()
    except VhdfixError:
        return None
    return Path(path)


def diagnose_target(target: Target) -> Inspection:
    """vhdfix's inspection of ``target``: of its disk image with vhdfix's own readers when vhdfix reads it
    (log replay, the VHDX fixes, differencing), else of the Windows files dissect gives."""
    image = own_disk_image(target)
    if image is not None:
        return inspect(image)
    label = str(target.path) if target.path is not None else str(target)
    try:
        fallback = from_target(target, label)
    except VhdfixError as exc:
        return Inspection(label, error=exc)
    return inspect_target(fallback)


class VhdfixPlugin(Plugin):
    """vhdfix: which Azure troubleshooting article a Windows VM OS disk's boot failure matches, with evidence."""

    __namespace__ = "vhdfix"

    def check_compatible(self) -> None:
        if own_disk_image(self.target) is None and not has_windows(self.target):
            raise UnsupportedPluginError("neither a disk image vhdfix reads nor a target with a Windows installation")

    @export(record=[DiagnosisRecord, EvidenceRecord])
    def diagnose(self) -> Iterator[Record]:
        """The article (or tied set) that applies, its confidence and reasons, then each evidence item.

        A disk image vhdfix reads itself (VHD, VHDX, raw...) is inspected with vhdfix's
        own readers; any other target through the files and hive files dissect gives,
        the hives recovered from their logs by vhdfix. Each record names its reader.
        """
        yield from inspection_records(diagnose_target(self.target), self.target)
