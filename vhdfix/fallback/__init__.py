"""Inputs vhdfix's own readers do not open, opened through dissect.target's loaders.

An Acquire collection (tar or zip of the Windows files), a directory holding a
copied Windows tree, an EWF (E01) image, a VDI...: dissect.target opens it, and
vhdfix reads the Windows files through it (:class:`TargetFiles`, a
:class:`vhdfix.windows.files.WindowsFiles`). Hives are still read from their
files and recovered with vhdfix's own log replay. Read only: repair never
writes through this path.
"""

from vhdfix.fallback.files import TargetFiles
from vhdfix.fallback.target import FallbackTarget, fallback_warning, from_target, has_windows, open_fallback

__all__ = ["FallbackTarget", "TargetFiles", "fallback_warning", "from_target", "has_windows", "open_fallback"]
