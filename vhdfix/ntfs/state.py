"""The NTFS volume's shutdown state: dirty flag, ``$LogFile`` and hibernation.

Read-only. The writer gates on it (write-path.md §5.6), and ``inspect``
reports it, because Windows replays an unclean log or resumes a hibernated
image over anything written offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from vhdfix.ntfs.logfile import PROBE_BYTES, LogFileState, classify_logfile
from vhdfix.ntfs.ntfs_format import VOLUME_INFORMATION, VOLUME_IS_DIRTY
from vhdfix.ntfs.volume import NtfsVolume

LOGFILE_RECORD = 2
HIBERFIL_HEADER = 4096
HIBERNATION_SIGNATURES = (b"hibr", b"HIBR")


@dataclass(frozen=True)
class VolumeState:
    ntfs_version: str
    volume_flags: int
    dirty: bool
    logfile: LogFileState
    hibernation: str  # "none" (no hiberfil.sys), "not-hibernated", "hibernated", "short-hiberfil"

    @property
    def problems(self) -> list[str]:
        """Why writing into this volume would be unsafe; empty when it is safe."""
        found = []
        if self.dirty:
            found.append("the NTFS dirty flag is set (Windows will run chkdsk)")
        if not self.logfile.safe_to_write:
            found.append(f"$LogFile is {self.logfile.status}: {self.logfile.detail}")
        if self.hibernation in ("hibernated", "short-hiberfil"):
            found.append("hiberfil.sys holds a hibernation image" if self.hibernation == "hibernated"
                         else "hiberfil.sys is shorter than its 4096-byte header")
        return found

    def to_json(self) -> dict[str, object]:
        return {"ntfs_version": self.ntfs_version, "volume_flags": self.volume_flags, "dirty": self.dirty,
                "logfile": self.logfile.to_json(), "hibernation": self.hibernation}


def read_volume_state(volume: NtfsVolume) -> VolumeState:
    info = VOLUME_INFORMATION.parse(volume.volume_information().ljust(len(VOLUME_INFORMATION), b"\0"))
    logfile = classify_logfile(volume.read_metafile(LOGFILE_RECORD, PROBE_BYTES))
    hiber = volume.read_file("hiberfil.sys", HIBERFIL_HEADER)
    if hiber is None:
        hibernation = "none"
    elif hiber[0][:4] in HIBERNATION_SIGNATURES:
        hibernation = "hibernated"
    elif len(hiber[0]) < HIBERFIL_HEADER:
        hibernation = "short-hiberfil"
    else:
        hibernation = "not-hibernated"
    return VolumeState(f"{info.major_ver}.{info.minor_ver}", info.flags, bool(info.flags & VOLUME_IS_DIRTY),
                       logfile, hibernation)
