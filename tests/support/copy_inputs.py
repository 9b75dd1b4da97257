"""The copy tests' inputs: the PA sample disk in every kind of container, and patches to splice into copies."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support.samples import PA, sample
from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import MiB
from vhdfix.copy import resolve_target
from vhdfix.disk import Container, open_disk
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.vhd_format import HARD_DISK_FOOTER
from vhdfix.plan import BytePatch

FORMATS = ("same", "vhd-fixed", "vhd-dynamic", "vhdx", "raw")
SUFFIX = {"vhd": ".vhd", "vhdx": ".vhdx", "raw": ".raw"}
SECTOR = 512


@dataclass
class Input:
    path: Path
    files: list[Path]  # the input's files: the chain for a differencing disk
    content: bytes  # the virtual disk as vhdfix reads it
    format: str
    variant: str

    def allocated(self) -> int:
        return sum(path.stat().st_blocks * 512 for path in self.files)

    def digests(self) -> list[str]:
        return [hashlib.sha256(path.read_bytes()).hexdigest() for path in self.files]


def read_all(path: Path) -> tuple[bytes, str, str]:
    disk = open_disk(path)
    try:
        return disk.read(0, disk.virtual_size), disk.info.format, disk.info.variant
    finally:
        disk.close()


def sparse_raw(content: bytes, path: Path) -> Path:
    """``content`` as a raw file whose zero 4 KiB pages are holes."""
    with open(path, "wb") as f:
        f.truncate(len(content))
        for offset in range(0, len(content), 4096):
            page = content[offset:offset + 4096]
            if page.strip(b"\0"):
                f.seek(offset)
                f.write(page)
    return path


def build_inputs(folder: Path) -> dict[str, Input]:
    """The PA sample disk as dynamic VHD, fixed VHD (GPT), dynamic VHDX (GPT), a differencing VHD over the
    dynamic one, and a sparse raw file."""
    inputs = {}
    for label, name in (("vhd-dynamic", f"{PA}.vhd"), ("vhd-fixed", f"{PA}-gpt-vhd-fixed"),
                        ("vhdx", f"{PA}-gpt-vhdx-dynamic")):
        path = sample(name, folder)
        content, fmt, variant = read_all(path)
        inputs[label] = Input(path, [path], content, fmt, variant)

    chain = folder / "chain"
    chain.mkdir()
    base = shutil.copy(inputs["vhd-dynamic"].path, chain / "base.vhd")
    with ImageFile(base) as image:
        unique_id = HARD_DISK_FOOTER.parse(image.read_at(image.size - 512, 512)).unique_id
    parent = inputs["vhd-dynamic"].content
    sectors = {5000: b"\x42" * SECTOR, 5001: parent[5001 * SECTOR:5002 * SECTOR], 16000: bytes(SECTOR)}
    sectors.update({number: parent[number * SECTOR:(number + 1) * SECTOR] for number in range(6398, 6410)})
    write_vhd(chain / "child.vhd", VhdSpec(len(parent), b"C" * 16, sectors, unique_id, "base.vhd"))
    content, fmt, variant = read_all(chain / "child.vhd")
    inputs["vhd-chain"] = Input(chain / "child.vhd", [chain / "child.vhd", Path(base)], content, fmt, variant)

    raw = sparse_raw(inputs["vhd-fixed"].content, folder / "sparse.raw")
    inputs["raw"] = Input(raw, [raw], inputs["vhd-fixed"].content, "raw", "raw")
    return inputs


def output_path(folder: Path, source: Container, fmt: str) -> Path:
    target = resolve_target(fmt, source)
    return folder / f"out{SUFFIX[target.format]}"


def block_is_zero(content: bytes, offset: int, length: int) -> bool:
    piece = content[offset:offset + length]
    return piece == bytes(len(piece))


def zero_chunks(content: bytes) -> list[int]:
    return [offset for offset in range(0, len(content), MiB) if block_is_zero(content, offset, MiB)]


def sample_patches(content: bytes) -> list[BytePatch]:
    """Patches in the MBR, across a 1 MiB piece boundary and, where the disk has one, in a MiB of zeros."""
    patches = [
        BytePatch(440, content[440:444], b"\xde\xad\xbe\xef", "disk signature"),
        BytePatch(MiB - 2, content[MiB - 2:MiB + 2], b"ACRO", "across a 1 MiB piece"),
    ]
    zeros = zero_chunks(content)
    if zeros:
        patches.append(BytePatch(zeros[0] + 1000, bytes(3), b"new", "inside a MiB that held only zeros"))
    return patches


def patched(content: bytes, patches: list[BytePatch]) -> bytes:
    out = bytearray(content)
    for patch in patches:
        out[patch.offset:patch.end] = patch.new
    return bytes(out)
