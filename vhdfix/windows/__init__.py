"""The Windows installation on a disk: its volume, files and registry."""

from vhdfix.windows.volume import VolumeSurvey, WindowsVolume, find_windows_volume

__all__ = ["VolumeSurvey", "WindowsVolume", "find_windows_volume"]
