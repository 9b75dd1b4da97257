"""Decoding the text files Windows Setup leaves behind (UTF-16 with BOM, or ANSI/UTF-8)."""

from __future__ import annotations

import codecs

MAX_LINE_CHARS = 4096


def decode_text(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", "replace")
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if len(data) >= 4 and data[1] == 0 and data[3] == 0:
        return data.decode("utf-16-le", "replace")
    return data.decode("utf-8", "replace")


def text_lines(data: bytes, cut_at_start: bool = False) -> list[str]:
    """Lines of a decoded file, each cut at :data:`MAX_LINE_CHARS`; with ``cut_at_start`` the first, partial
    line is dropped.

    Setup logs have short lines. The cut keeps the evidence patterns, some of
    which backtrack (``.*``), linear in the size of a crafted file with one
    enormous line.
    """
    if cut_at_start and len(data) % 2 and data[1::2].count(0) > len(data) // 4:
        data = data[1:]  # a UTF-16 tail cut at an odd offset
    lines = decode_text(data).splitlines()
    if cut_at_start and lines:
        lines = lines[1:]
    return [line[:MAX_LINE_CHARS].rstrip() for line in lines]
