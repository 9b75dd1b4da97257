"""Helpers for the writer's tests: sample images, byte-level edits of a raw image, and state snapshots.

Everything here works on raw images (file offset = virtual-disk offset) in a test's temporary directory; the
committed fixtures are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.diagnosis.actions import parse_action
from vhdfix.diagnosis.catalog import Article, RemedyStep, load_catalog
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.extents import Extents, runs_from_pairs
from vhdfix.ntfs.fixup import apply_fixup
from vhdfix.ntfs.fixup_write import protect
from vhdfix.writer.context import open_context
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.volume_view import VolumeView

REPO = Path(__file__).resolve().parent.parent.parent
WRITER_FIXTURES = REPO / "fixtures" / "writer"
WRITER_MANIFEST = json.loads((WRITER_FIXTURES / "MANIFEST.json").read_text())
CASES: dict[str, Any] = WRITER_MANIFEST["cases"]


def step(step_id: str, action: dict[str, Any]) -> RemedyStep:
    """A documented remedy step, its action parsed as the catalogue parses an article's."""
    return RemedyStep(step_id, "test step", True, "tests", parse_action(action, step_id))


TEST_ARTICLE = """id = "{article_id}"
kind = "article"
title = "test: {article_id}"
link = ""
sources = ["tests"]
summary = "test article"
priority = 1

[[match]]
confidence = "high"
reason = "always"
not = {{ fact = "setup.OOBEInProgress", equals = 1 }}

[[remedy]]
"""


def one_article_catalog(folder: Path, article_id: str, remedy: str) -> list[Article]:
    """A catalogue of one article that matches every disk not in OOBE, with ``remedy`` (the TOML lines of its
    one ``[[remedy]]`` step)."""
    articles = folder / "articles"
    articles.mkdir()
    (articles / "test.toml").write_text(TEST_ARTICLE.format(article_id=article_id) + remedy)
    return load_catalog(articles)


def delete_step(step_id: str, *paths: str) -> RemedyStep:
    return step(step_id, {"type": "delete-files", "paths": list(paths)})


def set_step(step_id: str, *values: dict[str, Any]) -> RemedyStep:
    return step(step_id, {"type": "set-values", "values": list(values)})


def dword(hive: str, key: str, name: str, value: int) -> dict[str, Any]:
    return {"hive": hive, "key": key, "name": name, "value": value, "value_type": "REG_DWORD"}


def string(hive: str, key: str, name: str, value: str) -> dict[str, Any]:
    return {"hive": hive, "key": key, "name": name, "value": value, "value_type": "REG_SZ"}


def writer_cases(folder: Path) -> Path:
    """The writer's sample volume (a raw NTFS volume) unpacked into ``folder`` (once)."""
    target = folder / "writer-cases.raw"
    if not target.exists():
        target.write_bytes(lzma.decompress((WRITER_FIXTURES / "writer-cases.raw.xz").read_bytes()))
    return target


def copy_of(source: Path, folder: Path, name: str) -> Path:
    target = folder / name
    shutil.copyfile(source, target)
    return target


def unpack(source: Path, folder: Path) -> Path:
    """A fixture disk (``.xz`` or not) as a plain file in ``folder``."""
    target = folder / (source.stem if source.suffix == ".xz" else source.name)
    if not target.exists():
        data = source.read_bytes()
        target.write_bytes(lzma.decompress(data) if source.suffix == ".xz" else data)
    return target


# --- byte-level edits of a raw image ------------------------------------------------------------------------


def _stream_extents(ntfs: NtfsVolume, number: int) -> Extents:
    return Extents(runs_from_pairs(ntfs.fs.mft.get(number).dataruns()), ntfs.cluster_size)


def write_into_file(image: Path, path_or_record: str | int, offset: int, data: bytes) -> None:
    """Overwrite bytes of a non-resident file (by path, or metafile record number) in a raw image."""
    with open_context(image) as context:
        number = path_or_record if isinstance(path_or_record, int) else context.ntfs.record(path_or_record).segment
        pieces = _stream_extents(context.ntfs, number).volume_ranges(offset, len(data))
        base = context.partition.offset
    with image.open("r+b") as handle:
        position = 0
        for at, length in pieces:
            assert at is not None
            handle.seek(base + at)
            handle.write(data[position:position + length])
            position += length


def edit_record(image: Path, number: int, edit: Callable[[bytearray], None], refix: bool = True) -> None:
    """Change MFT record ``number`` of a raw image: fixed-up bytes in, fixup re-applied (unless ``refix``
    is False, when ``edit`` gets the raw on-disk bytes)."""
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        unit = view.record_unit(number)
        ranges, base, original = unit.ranges, context.partition.offset, unit.original
    buffer = bytearray(apply_fixup(original, len(original)) if refix else original)
    edit(buffer)
    data = protect(buffer) if refix else bytes(buffer)
    with image.open("r+b") as handle:
        position = 0
        for at, length in ranges:
            handle.seek(base + at)
            handle.write(data[position:position + length])
            position += length


def record_number(image: Path, path: str) -> int:
    with open_context(image) as context:
        return context.ntfs.record(path).segment


# --- snapshots ---------------------------------------------------------------------------------------------


def file_hashes(image: Path) -> dict[str, str]:
    """sha256 of every file's default stream, by path, walking the Windows volume from its root."""
    out: dict[str, str] = {}
    with open_context(image) as context:
        ntfs = context.ntfs
        pending = [""]
        while pending:
            folder = pending.pop()
            for item in ntfs.list_dir(folder):
                if item.is_dir:
                    pending.append(item.path)
                elif not item.path.startswith("$"):
                    data, _ = ntfs.read_file(item.path, 1 << 30) or (b"", False)
                    out[item.path] = hashlib.sha256(data).hexdigest()
    return out


@dataclass
class VolumeSnapshot:
    """What the comparison with ntfs-3g looks at: index entries, bitmaps and record states."""

    entries: dict[str, list[tuple[str, int, int, int]]] = field(default_factory=dict)
    directory_records: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # bytes in use, root, index
    cluster_bitmap: bytes = b""
    mft_bitmap: bytes = b""
    records: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # flags, sequence, link count


def snapshot(image: Path, directories: list[str], records: list[int]) -> VolumeSnapshot:
    shot = VolumeSnapshot()
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        for directory in directories:
            index = read_directory_index(view, context.ntfs.record(directory).segment)
            shot.entries[directory] = sorted((e.key.name, e.key.namespace, e.record, e.sequence)
                                             for _, e in index.entries() if e.key)
            shot.directory_records[directory] = (index.parsed.bytes_in_use, index.root_attribute.length,
                                                 index.root.node.index_length)
        fs = context.ntfs.fs
        shot.cluster_bitmap = fs.mft.get(6).open().read()
        shot.mft_bitmap = fs.mft.get(0).attributes[ATTRIBUTE_TYPE_CODE.BITMAP][0].open().read()
        for number in records:
            _, parsed = view.record(number)
            shot.records[number] = (parsed.flags, parsed.sequence_number, parsed.link_count)
    return shot


def changed_ranges(before: Path, after: Path, chunk: int = 4096) -> Iterator[tuple[int, int]]:
    """Byte ranges where two equally long files differ."""
    with before.open("rb") as one, after.open("rb") as two:
        offset = 0
        while True:
            a, b = one.read(chunk), two.read(chunk)
            if not a and not b:
                return
            if a != b:
                for index, (x, y) in enumerate(zip(a, b, strict=True)):
                    if x != y:
                        yield offset + index, offset + index + 1
            offset += len(a)


def restart_page(major: int, minor: int, in_use: int, flags: int) -> bytes:
    """A 4096-byte ``$LogFile`` restart page (write-path.md §5.1), fixups applied."""
    page = bytearray(4096)
    usa_ofs, usa_count = 0x1E, 4096 // 512 + 1
    struct.pack_into("<4sHHQIIHhh", page, 0, b"RSTR", usa_ofs, usa_count, 0, 4096, 4096, 0x30, minor, major)
    struct.pack_into("<QHHHH", page, 0x30, 0x1000, 1, 0xFFFF, in_use, flags)
    struct.pack_into("<H", page, usa_ofs, 6)  # protect() bumps it to 7
    return protect(page)
