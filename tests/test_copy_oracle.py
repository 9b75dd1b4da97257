"""qemu-img as an independent judge of every copy: it checks, maps and compares what vhdfix wrote.

qemu probes a fixed VHD as raw, so every command names the formats (``-f``/``-F``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.support.copy_inputs import FORMATS, Input, output_path, patched, sample_patches
from tests.support.qemu import QEMU_FORMAT, qemu_check, qemu_img, to_raw
from vhdfix.copy import copy_disk, resolve_target
from vhdfix.disk import open_disk
from vhdfix.plan import BytePatch

pytestmark = pytest.mark.oracle
SECTOR = 512


def copy(source_input: Input, fmt: str, folder: Path, patches: list[BytePatch] | None = None) -> tuple[Path, str]:
    disk = open_disk(source_input.path)
    try:
        target = resolve_target(fmt, disk)
        out = output_path(folder, disk, fmt)
        copy_disk(disk, out, fmt, patches or [])
    finally:
        disk.close()
    return out, QEMU_FORMAT[target.format]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vhd-dynamic", "vhd-fixed", "vhdx", "vhd-chain", "raw"])
def test_qemu_accepts_and_reads_the_copy(kind: str, fmt: str, inputs: dict[str, Input], tmp_path: Path) -> None:
    source_input = inputs[kind]
    out, qemu_format = copy(source_input, fmt, tmp_path)
    qemu_check(out, qemu_format)
    info = json.loads(qemu_img("info", "--output=json", "-f", qemu_format, out))
    assert info["format"] == qemu_format
    disk = open_disk(out)
    assert info["virtual-size"] == disk.virtual_size >= len(source_input.content)
    disk.close()
    seen = to_raw(out, tmp_path / "qemu-view.raw", qemu_format).read_bytes()
    assert seen[:len(source_input.content)] == source_input.content
    assert seen[len(source_input.content):] == bytes(len(seen) - len(source_input.content))
    if kind != "vhd-chain":  # qemu does not read differencing VHDs: the chain is compared through its reading
        input_format = QEMU_FORMAT[source_input.format]
        done = qemu_img("compare", "-f", input_format, "-F", qemu_format, source_input.path, out)
        assert "Images are identical" in done


def test_fixed_vhd_is_fixed_for_qemu(inputs: dict[str, Input], tmp_path: Path) -> None:
    out, _ = copy(inputs["vhdx"], "vhd-fixed", tmp_path)
    info = json.loads(qemu_img("info", "--output=json", "-f", "vpc", out))
    assert info["format"] == "vpc" and info["virtual-size"] % (1 << 20) == 0
    assert info["virtual-size"] == out.stat().st_size - 512
    for extent in json.loads(qemu_img("map", "--output=json", "-f", "vpc", out)):
        assert extent.get("offset", extent["start"]) == extent["start"]  # disk offset = file offset: fixed


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vhd-dynamic", "vhdx"])
def test_only_the_patched_sectors_differ(kind: str, fmt: str, inputs: dict[str, Input], tmp_path: Path) -> None:
    source_input = inputs[kind]
    patches = sample_patches(source_input.content)
    out, qemu_format = copy(source_input, fmt, tmp_path, patches)
    qemu_check(out, qemu_format)
    before = to_raw(source_input.path, tmp_path / "before.raw", QEMU_FORMAT[source_input.format]).read_bytes()
    after = to_raw(out, tmp_path / "after.raw", qemu_format).read_bytes()[:len(before)]
    differing = {sector for sector in range(len(before) // SECTOR)
                 if before[sector * SECTOR:(sector + 1) * SECTOR] != after[sector * SECTOR:(sector + 1) * SECTOR]}
    named = {sector for patch in patches for sector in range(patch.offset // SECTOR, (patch.end - 1) // SECTOR + 1)}
    assert differing == named
    assert after == patched(source_input.content, patches)
    done = subprocess.run([require_tool("qemu-img"), "compare", "-f", QEMU_FORMAT[source_input.format], "-F",
                           qemu_format, str(source_input.path), str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and f"offset {min(named) * SECTOR}" in done.stdout, done.stdout
