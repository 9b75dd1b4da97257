"""End to end against independent tools: each sample disk repaired into each format, then judged by qemu-img
and ntfs-3g's tools, which read nothing through vhdfix.

* ``qemu-img check`` passes (VHDX; qemu has no checker for VHD or raw and says so);
* qemu's reading of OUT differs from its reading of the input exactly at the sectors the plan names, and
  ``qemu-img compare`` reports the first of them;
* the Windows volume, extracted by qemu-img, passes ``ntfsresize -i -f -n`` and ``ntfsfix -n``, and a
  read-only ntfs-3g mount shows every file of the input but the removed one, byte for byte.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

import vhdfix
from tests.conftest import require_tool
from tests.support.oracles import ntfs3g, ntfs_checks, stat_walk, windows_volume
from tests.support.qemu import QEMU_FORMAT, qemu_check, to_raw
from tests.support.samples import PA, sample

pytestmark = pytest.mark.oracle
FORMATS = ("same", "vhd-fixed", "vhd-dynamic", "vhdx", "raw")
SUFFIX = {"vhd": ".vhd", "vhdx": ".vhdx", "raw": ".raw"}
INPUTS = (f"{PA}.vhd", f"{PA}-gpt-vhd-fixed", f"{PA}-gpt-vhdx-dynamic")
SECTOR = 512
REMOVED = "Windows/OEM/Unattend.wsf"


def differing_sectors(first: bytes, second: bytes) -> set[int]:
    return {sector for sector in range(len(first) // SECTOR)
            if first[sector * SECTOR:(sector + 1) * SECTOR] != second[sector * SECTOR:(sector + 1) * SECTOR]}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", INPUTS)
def test_repaired_copy_judged_by_qemu_and_ntfs_3g(name: str, fmt: str, samples: Path, tmp_path: Path) -> None:
    disk = sample(name, samples)
    digest = hashlib.sha256(disk.read_bytes()).hexdigest()
    target_suffix = disk.suffix if fmt == "same" else SUFFIX[fmt.split("-")[0]]
    out = tmp_path / f"repaired{target_suffix}"
    result = vhdfix.repair(disk, out, format=fmt)
    assert result.exit_code == 0, result.to_json()
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == digest
    assert result.plan is not None and result.copy is not None
    out_format = QEMU_FORMAT[result.copy.format]
    qemu_check(out, out_format)

    in_format = QEMU_FORMAT[disk.suffix.lstrip(".")]
    before = to_raw(disk, tmp_path / "before.raw", in_format).read_bytes()
    after = to_raw(out, tmp_path / "after.raw", out_format).read_bytes()
    assert after[len(before):] == bytes(len(after) - len(before))
    named = {sector for patch in result.plan.patches
             for sector in range(patch.offset // SECTOR, (patch.end - 1) // SECTOR + 1)}
    assert differing_sectors(before, after[:len(before)]) <= named
    assert differing_sectors(before, after[:len(before)]), "the repair changed nothing"
    done = subprocess.run([require_tool("qemu-img"), "compare", "-f", in_format, "-F", out_format, str(disk), str(out)],
                          capture_output=True, text=True, timeout=120)
    first = min(differing_sectors(before, after[:len(before)])) * SECTOR
    assert done.returncode == 1 and f"offset {first}" in done.stdout, done.stdout + done.stderr

    original = windows_volume(disk, tmp_path, "original")
    repaired = windows_volume(out, tmp_path, "repaired")
    ntfs_checks(repaired)
    with ntfs3g(original) as root:
        expected = stat_walk(root)
    with ntfs3g(repaired) as root:
        seen = stat_walk(root)
    assert REMOVED in expected and REMOVED not in seen
    del expected[REMOVED]
    assert seen == expected
