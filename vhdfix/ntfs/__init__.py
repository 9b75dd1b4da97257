"""NTFS: a guarded read-only view of a volume and its shutdown state."""

from vhdfix.ntfs.logfile import LogFileState
from vhdfix.ntfs.state import VolumeState, read_volume_state
from vhdfix.ntfs.volume import FileInfo, NtfsVolume, volume_kind

__all__ = ["FileInfo", "LogFileState", "NtfsVolume", "VolumeState", "read_volume_state", "volume_kind"]
