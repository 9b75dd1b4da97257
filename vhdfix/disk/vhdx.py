"""VHDX reader (being written; see issue 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vhdfix.disk.container import Container
from vhdfix.disk.image_file import ImageFile
from vhdfix.errors import UnsupportedFormat

if TYPE_CHECKING:
    from vhdfix.disk.opener import ChainOpener


def open_vhdx(image: ImageFile, opener: ChainOpener, depth: int) -> Container:
    raise UnsupportedFormat(f"{image.path.name}: VHDX support is not built yet")
