"""A directory's ``$I30`` index as the writer sees it (read by :mod:`vhdfix.writer.index_edit`)."""

from __future__ import annotations

from vhdfix.errors import CorruptVolume
from vhdfix.ntfs.index_node import DIRECTORY_INDEX
from vhdfix.writer.index_edit import NtfsIndex, read_index
from vhdfix.writer.volume_view import VolumeView


def read_directory_index(view: VolumeView, number: int) -> NtfsIndex:
    """The ``$I30`` index of directory record ``number``; refuses a directory spread over an attribute list."""
    _, parsed = view.record(number)
    if not parsed.in_use or not parsed.is_directory:
        raise CorruptVolume(f"{view.label}: record {number} is not a directory in use")
    return read_index(view, number, DIRECTORY_INDEX)
