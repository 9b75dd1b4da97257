"""The writer against independent Debian tools (run in CI with ntfs-3g, qemu-utils and libhivex-bin installed).

* Deletions compared with ntfs-3g's own: two copies of a volume; in one the files are removed with ``rm``
  through a read-write ntfs-3g mount (the comparison side), in the other by vhdfix. Index entries, both bitmaps
  and the freed records' states must be the same (ntfs-3g also rewrites times and drops the freed record's DOS
  name, write-path.md §4.8; those are not compared).
* Every edited image passes a read-only ntfs-3g mount with a stat walk, ``ntfsresize -i -f -n``,
  ``ntfsfix -n``, ``qemu-img check`` (VHDX), and ``hivexregedit --export`` shows the new values; every other
  file is byte-identical to the input.
* The real SYSTEM_B hive (mkorman90/regipy test data, dirty, with its logs) placed in a volume: the edit
  lands in the recovered image, dissect.regf, hivex and vhdfix's reader (regipy) agree, and replaying the old
  logs over the result changes nothing.
"""

from __future__ import annotations

import io
import lzma
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from dissect.regf import regf

from tests.conftest import require_tool
from tests.support.oracles import hivex_export, ntfs3g, ntfs_checks, run, stat_walk, windows_volume
from tests.support.writer_support import (
    CASES,
    copy_of,
    delete_step,
    dword,
    set_step,
    snapshot,
    string,
    unpack,
    writer_cases,
)
from vhdfix.diagnosis import load_catalog
from vhdfix.registry import recover
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.verify import verify_structures
from vhdfix.writer import apply_patches, open_context, plan_actions

pytestmark = pytest.mark.oracle

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REGIPY_DATA = "mkorman90+regipy/regipy_tests/data"
IMAGE_STATE_KEY = "Microsoft\\Windows\\CurrentVersion\\Setup\\State"


def _vhdfix_delete(volume: Path, copy: Path, paths: list[str]) -> object:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", *paths)])
    apply_patches(copy, planned.patches, original=volume)
    verify_structures(copy, planned.expectations)
    return planned


def _ntfs3g_delete(copy: Path, paths: list[str]) -> None:
    with ntfs3g(copy, read_only=False) as root:
        for path in paths:
            (root / path.replace("\\", "/")).unlink()


def _compare_with_ntfs3g(volume: Path, tmp_path: Path, paths: list[str]) -> None:
    ours, theirs = copy_of(volume, tmp_path, "vhdfix.raw"), copy_of(volume, tmp_path, "ntfs-3g.raw")
    planned = _vhdfix_delete(volume, ours, paths)
    _ntfs3g_delete(theirs, paths)
    directories = sorted({path.rsplit("\\", 1)[0] for path in paths})
    records = [item.record for item in planned.expectations.removed]  # type: ignore[attr-defined]
    mine, reference = snapshot(ours, directories, records), snapshot(theirs, directories, records)
    assert mine.entries == reference.entries
    assert mine.directory_records == reference.directory_records
    assert mine.cluster_bitmap == reference.cluster_bitmap
    assert mine.mft_bitmap == reference.mft_bitmap
    assert mine.records == reference.records == {number: (0, 2, 0) for number in records}
    before = snapshot(volume, directories, records)
    assert mine.entries != before.entries and mine.mft_bitmap != before.mft_bitmap
    ntfs_checks(ours)


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return writer_cases(tmp_path_factory.mktemp("writer-cases"))


@pytest.mark.parametrize("case", ["resident_in_root", "non_resident", "leaf_entry", "several_in_one_directory"])
def test_deletions_match_ntfs3g(volume: Path, tmp_path: Path, case: str) -> None:
    paths = {
        "resident_in_root": [CASES["resident_in_root"]],
        "non_resident": [CASES["non_resident"]],
        "leaf_entry": [CASES["leaf_entries"][0]],
        "several_in_one_directory": [CASES["resident_in_root"], CASES["resident_in_root_2"],
                                     *CASES["leaf_entries"]],
    }[case]
    _compare_with_ntfs3g(volume, tmp_path, paths)


def test_the_provisioning_agent_files_match_ntfs3g(tmp_path: Path) -> None:
    """On the Azure sample disk: DOS pairs in an INDX leaf (OEM) and in an index root (Setup\\Scripts)."""
    volume = windows_volume(FIXTURES / "provisioning-agent.vhd", tmp_path, "pa")
    article = next(a for a in load_catalog() if a.id == "OSStartUp-PROVISIONING_AGENT")
    paths = [path for step in article.remedy for path in step.action.removed_files]
    _compare_with_ntfs3g(volume, tmp_path, paths)


PA_MATRIX = sorted(p.name for p in (FIXTURES / "matrix").glob("provisioning-agent-*.xz"))


@pytest.mark.parametrize("name", PA_MATRIX)
def test_edited_images_pass_the_independent_checks(name: str, tmp_path: Path) -> None:
    source = unpack(FIXTURES / "matrix" / name, tmp_path)
    copy = copy_of(source, tmp_path, "edited" + source.suffix)
    article = next(a for a in load_catalog() if a.id == "OSStartUp-PROVISIONING_AGENT")
    extra = set_step("strings", string("SYSTEM", "Setup", "CmdLine", ""),
                     string("SOFTWARE", IMAGE_STATE_KEY, "ImageState", "IMAGE_STATE_COMPLETE"))
    with open_context(source) as context:
        planned = plan_actions(context, [*article.remedy, extra])
    apply_patches(copy, planned.patches, original=source)
    verify_structures(copy, planned.expectations)
    if source.suffix == ".vhdx":
        check = run(require_tool("qemu-img"), "check", "-f", "vhdx", copy)
        assert check.returncode == 0, check.stdout + check.stderr
    else:  # qemu-img has no check for VHD; its reader must still accept the file
        info = run(require_tool("qemu-img"), "info", "-f", "vpc", copy)
        assert info.returncode == 0, info.stderr
    before, after = windows_volume(source, tmp_path, "input"), windows_volume(copy, tmp_path, "edited")
    ntfs_checks(after)
    with ntfs3g(before) as root:
        original = stat_walk(root)
    with ntfs3g(after) as root:
        edited = stat_walk(root)
        system = hivex_export(root / "Windows/System32/config/SYSTEM", "\\Setup")
        software = hivex_export(root / "Windows/System32/config/SOFTWARE", "\\" + IMAGE_STATE_KEY)
    removed = {path.replace("\\", "/") for step in article.remedy for path in step.action.removed_files}
    hives = {"Windows/System32/config/SYSTEM", "Windows/System32/config/SOFTWARE"}
    assert set(original) - set(edited) == removed
    assert set(edited) == set(original) - removed
    assert {path for path in edited if edited[path] != original[path]} == hives
    for value in ("SetupType", "SystemSetupInProgress", "OOBEInProgress", "SetupPhase"):
        assert f'"{value}"=dword:00000000' in system
    assert '"CmdLine"=str(1):""' in system  # REG_SZ, empty: the cell holds 00 00 (encoding A)
    assert '"ImageState"=str(1):"IMAGE_STATE_COMPLETE"' in software


def _system_b_volume(realdata: Path, folder: Path) -> tuple[Path, dict[str, bytes]]:
    """A 40 MiB NTFS volume with SYSTEM_B and its logs as Windows\\System32\\config\\SYSTEM(.LOG1/.LOG2)."""
    files = {name: lzma.decompress((realdata / REGIPY_DATA / f"SYSTEM_B{suffix}.xz").read_bytes())
             for name, suffix in (("SYSTEM", ""), ("SYSTEM.LOG1", ".LOG1"), ("SYSTEM.LOG2", ".LOG2"))}
    volume = folder / "system-b.raw"
    with volume.open("wb") as handle:
        handle.truncate(40 * 1024 * 1024)
    made = run(require_tool("mkntfs"), "-q", "-F", "-T", "-L", "SystemB", volume)
    assert made.returncode == 0, made.stderr
    with ntfs3g(volume, read_only=False) as root:
        config = root / "Windows" / "System32" / "config"
        config.mkdir(parents=True)
        for name, data in files.items():
            (config / name).write_bytes(data)
    return volume, files


def _hivex_counts(export: str) -> tuple[int, int]:
    keys = sum(1 for line in export.splitlines() if line.startswith("["))
    values = sum(1 for line in export.splitlines() if re.match(r'^("|@=)', line))
    return keys, values


def _dissect_counts(data: bytes) -> tuple[int, int]:
    hive = regf.RegistryHive(io.BytesIO(data))
    keys = values = 0
    stack = [hive.root()]
    while stack:
        key = stack.pop()
        keys += 1
        for value in key.values():
            value.value  # noqa: B018 - decodes the data: a bad cell raises here
            values += 1
        stack.extend(key.subkeys())
    return keys, values


def test_the_real_dirty_system_b_hive(realdata: Path, tmp_path: Path) -> None:
    volume, files = _system_b_volume(realdata, tmp_path)
    copy = copy_of(volume, tmp_path, "edited.raw")
    epoch = "ControlSet001\\Services\\SharedAccess\\Epoch2"
    step = set_step("edit", dword("SYSTEM", epoch, "Epoch", 0x99),
                    dword("SYSTEM", "ControlSet001\\Services\\ad_driver", "Start", 4),  # a key only in the logs
                    string("SYSTEM", "Setup", "WorkingDirectory", "C:\\"))
    with open_context(volume) as context:
        hive = context.hive("SYSTEM").hive
        assert hive.state == "recovered" and hive.entries_applied == 24 and hive.max_sequence == 2130
        planned = plan_actions(context, [step])  # SYSTEM_B's base block has the KTM flag set: a warning
    assert any("KTM flag" in note for note in planned.notes["edit"])
    assert KeyPaths.strict("primary", files["SYSTEM"]).find_key("ControlSet001\\Services\\ad_driver") is None
    apply_patches(copy, planned.patches, original=volume)
    report = verify_structures(copy, planned.expectations)
    assert report.hive_values == 78901
    with ntfs3g(copy) as root:
        config = root / "Windows" / "System32" / "config"
        result = (config / "SYSTEM").read_bytes()
        shutil.copyfile(config / "SYSTEM", tmp_path / "SYSTEM")
    ntfs_checks(copy)
    assert len(result) == len(files["SYSTEM"])
    # The edits landed in the recovered image: it holds the logged key, and every other logged change.
    recovered = recover(files["SYSTEM"], [("SYSTEM.LOG1", files["SYSTEM.LOG1"]),
                                          ("SYSTEM.LOG2", files["SYSTEM.LOG2"])]).data
    keys, values = _dissect_counts(result)
    assert (keys, values) == _dissect_counts(recovered) == (report.hive_keys, 78901)
    (tmp_path / "recovered").write_bytes(recovered)
    ours, reference = hivex_export(tmp_path / "SYSTEM"), hivex_export(tmp_path / "recovered")
    assert _hivex_counts(ours) == _hivex_counts(reference)
    mine, theirs = Counter(ours.splitlines()), Counter(reference.splitlines())
    changed = (mine - theirs) + (theirs - mine)  # hivex sees only the three edits, each old and new once
    assert sorted(line.split("=", 1)[0] for line in changed.elements()) == \
        ['"Epoch"', '"Epoch"', '"Start"', '"Start"', '"WorkingDirectory"', '"WorkingDirectory"']
    export = hivex_export(tmp_path / "SYSTEM", "\\ControlSet001\\Services\\ad_driver")
    assert '"Start"=dword:00000004' in export
    assert '"Epoch"=dword:00000099' in hivex_export(tmp_path / "SYSTEM", "\\" + epoch)
    dissected = regf.RegistryHive(io.BytesIO(result))
    assert dissected.open(epoch).value("Epoch").value == 0x99
    assert dissected.open("Setup").value("WorkingDirectory").value == "C:\\"
    with open_context(copy) as context:  # vhdfix's reader (regipy behind the adapter), from the copy
        system = context.hive("SYSTEM").hive
        assert system.state == "clean"
        assert system.value(epoch, "Epoch").value == 0x99
        assert system.value("ControlSet001\\Services\\ad_driver", "Start").value == 4
        assert system.value("Setup", "WorkingDirectory").value == "C:\\"
        assert system.value("MountedDevices", "\\DosDevices\\F:") is not None  # another change from the logs
    # A Windows log recovery with the old logs finds a clean hive above every logged sequence: no change.
    again = recover(result, [("SYSTEM.LOG1", files["SYSTEM.LOG1"]), ("SYSTEM.LOG2", files["SYSTEM.LOG2"])])
    assert again.state == "clean" and again.data == result and again.max_sequence == 2131
