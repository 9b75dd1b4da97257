"""Terminal styling: colour only on a TTY, and never when NO_COLOR is set (no-color.org)."""

from __future__ import annotations

import os
from typing import TextIO

import click


def use_color(stream: TextIO) -> bool:
    if "NO_COLOR" in os.environ and os.environ["NO_COLOR"] != "":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, **kwargs: object) -> str:
        return click.style(text, **kwargs) if self.color else text  # type: ignore[arg-type]

    def heading(self, text: str) -> str:
        return self(text, bold=True)

    def good(self, text: str) -> str:
        return self(text, fg="green")

    def bad(self, text: str) -> str:
        return self(text, fg="red", bold=True)

    def warn(self, text: str) -> str:
        return self(text, fg="yellow")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
