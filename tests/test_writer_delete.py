"""Removing files: planned as byte patches, applied to a copy, verified, and nothing else changed.

The writer's sample volume (fixtures/writer, see fixtures/build_writer_fixtures.py) has the cases by name in
its manifest; the Azure sample disks give the real article on every container format.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.support.writer_support import (
    CASES,
    changed_ranges,
    copy_of,
    delete_step,
    file_hashes,
    snapshot,
    unpack,
    writer_cases,
)
from vhdfix.diagnosis import load_catalog
from vhdfix.disk import open_disk
from vhdfix.errors import OldBytesMismatch
from vhdfix.inspection import inspect
from vhdfix.plan import WritePlan
from vhdfix.verify import verify_structures
from vhdfix.verify.structures import structures_check
from vhdfix.writer import apply_patches, context_for, context_of, open_context, plan_actions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PA = "OSStartUp-PROVISIONING_AGENT"


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return writer_cases(tmp_path_factory.mktemp("writer-cases"))


def _remove(volume: Path, tmp_path: Path, *paths: str) -> tuple[Path, object]:
    copy = copy_of(volume, tmp_path, "copy.raw")
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", *paths)])
    apply_patches(copy, planned.patches, original=volume)
    return copy, planned


def _only_patched_bytes_changed(before: Path, after: Path, planned: object) -> None:
    patched = [(p.offset, p.end) for p in planned.patches]  # type: ignore[attr-defined]
    for start, end in changed_ranges(before, after):
        assert any(lo <= start and end <= hi for lo, hi in patched), f"byte {start} changed outside the plan"


def test_resident_file_with_a_dos_name_in_an_index_root(volume: Path, tmp_path: Path) -> None:
    path = CASES["resident_in_root"]
    directory = path.rsplit("\\", 1)[0]
    copy, planned = _remove(volume, tmp_path, path)
    removed = planned.expectations.removed[0]
    assert removed.names == ("ERRORH~1.CMD", "ErrorHandler.cmd") and removed.clusters == ()
    before, after = snapshot(volume, [directory], [removed.record]), snapshot(copy, [directory], [removed.record])
    assert [e[0] for e in before.entries[directory]] == ["ERRORH~1.CMD", "ErrorHandler.cmd", "SETUPC~1.CMD",
                                                         "SetupComplete.cmd"]
    assert [e[0] for e in after.entries[directory]] == ["SETUPC~1.CMD", "SetupComplete.cmd"]
    # Both entries (120 + 112 bytes) left the resident root: index, attribute and record all shrank by 232.
    assert [b - a for b, a in zip(before.directory_records[directory], after.directory_records[directory],
                                  strict=True)] == [232, 232, 232]
    assert before.records[removed.record] == (1, 1, 2) and after.records[removed.record] == (0, 2, 0)
    assert before.cluster_bitmap == after.cluster_bitmap
    changed = [i for i, (x, y) in enumerate(zip(before.mft_bitmap, after.mft_bitmap, strict=True)) if x != y]
    assert changed == [removed.record // 8]
    report = verify_structures(copy, planned.expectations)
    assert (report.removed_records, report.directories, report.index_entries) == (1, 1, 2)
    _only_patched_bytes_changed(volume, copy, planned)
    # Two patches: the directory's record and the file's record (MFT bitmap: a third).
    assert len(planned.patches) == 3


def test_non_resident_file_frees_its_clusters(volume: Path, tmp_path: Path) -> None:
    path = CASES["non_resident"]
    with open_context(volume) as context:
        clusters = -(-context.ntfs.stat(path).size // context.ntfs.cluster_size)
    assert clusters == 82  # 332640 bytes in 4 KiB clusters
    copy, planned = _remove(volume, tmp_path, path)
    removed = planned.expectations.removed[0]
    assert sum(count for _, count in removed.clusters) == clusters
    before, after = snapshot(volume, [], []), snapshot(copy, [], [])
    freed = sum(bin(x ^ y).count("1") for x, y in zip(before.cluster_bitmap, after.cluster_bitmap, strict=True))
    assert freed == clusters
    assert verify_structures(copy, planned.expectations).freed_clusters == clusters
    _only_patched_bytes_changed(volume, copy, planned)


def test_several_files_in_one_indx_leaf(volume: Path, tmp_path: Path) -> None:
    paths = CASES["leaf_entries"]
    copy, planned = _remove(volume, tmp_path, *paths)
    before, after = snapshot(volume, ["big"], []), snapshot(copy, ["big"], [])
    gone = {p.rsplit("\\", 1)[1] for p in paths}
    assert {e[0] for e in before.entries["big"]} - {e[0] for e in after.entries["big"]} == gone
    assert len(after.entries["big"]) == len(before.entries["big"]) - 2
    assert before.directory_records["big"] == after.directory_records["big"]  # the root is not touched
    indx = [p for p in planned.patches if "INDX block" in p.reason]
    assert len(indx) == 1 and all(name in indx[0].reason for name in gone)  # one block, written once
    verify_structures(copy, planned.expectations)
    _only_patched_bytes_changed(volume, copy, planned)


def test_untouched_files_are_byte_identical(volume: Path, tmp_path: Path) -> None:
    paths = [CASES["resident_in_root"], CASES["resident_in_root_2"], CASES["non_resident"], *CASES["leaf_entries"]]
    copy, planned = _remove(volume, tmp_path, *paths)
    verify_structures(copy, planned.expectations)
    before, after = file_hashes(volume), file_hashes(copy)
    assert set(before) - set(after) == set(paths)
    assert len(after) == 190 and all(after[path] == before[path] for path in after)


def test_missing_files_give_notes_and_no_patches(volume: Path) -> None:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("gone", "Windows\\OEM\\Unattend.wsf", "no\\such\\dir\\x.txt"),
                                         delete_step("twice", CASES["resident_in_root"], CASES["resident_in_root"])])
    assert planned.patches == [p for p in planned.steps[1].patches]
    assert planned.notes == {
        "gone": ["Windows\\OEM\\Unattend.wsf does not exist; nothing to remove",
                 "no\\such\\dir\\x.txt does not exist; nothing to remove"],
        "twice": [f"{CASES['resident_in_root']} does not exist; nothing to remove"],
    }
    assert len(planned.expectations.removed) == 1


def test_the_plan_is_printable_data_whose_old_bytes_match_the_input(volume: Path) -> None:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", CASES["non_resident"])])
        for patch in planned.patches:
            assert context.disk.read(patch.offset, len(patch.old)) == patch.old != patch.new
    data = json.loads(json.dumps(planned.to_json()))
    assert data["steps"][0]["id"] == "remove" and data["steps"][0]["notes"] == []
    offsets = [p["offset"] for p in data["steps"][0]["patches"]]
    assert offsets == sorted(offsets)


def test_patches_are_refused_on_anything_but_the_planned_input(volume: Path, tmp_path: Path) -> None:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", CASES["non_resident"])])
    digest = hashlib.sha256(volume.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="input disk itself"):
        apply_patches(volume, planned.patches, original=volume)
    assert hashlib.sha256(volume.read_bytes()).hexdigest() == digest
    other = copy_of(volume, tmp_path, "other.raw")
    apply_patches(other, planned.patches)
    mutated = hashlib.sha256(other.read_bytes()).hexdigest()
    with pytest.raises(OldBytesMismatch) as refused:  # applying twice: the old bytes are gone
        apply_patches(other, planned.patches)
    assert refused.value.code == "old-bytes-mismatch"
    assert hashlib.sha256(other.read_bytes()).hexdigest() == mutated


MATRIX = sorted(p.name for p in (FIXTURES / "matrix").glob("provisioning-agent-*.xz"))


@pytest.mark.parametrize("name", MATRIX)
def test_the_provisioning_agent_remedy_on_every_container_format(name: str, tmp_path: Path) -> None:
    source = unpack(FIXTURES / "matrix" / name, tmp_path)
    copy = copy_of(source, tmp_path, "copy" + source.suffix)
    article = next(a for a in load_catalog() if a.id == PA)
    with open_context(source) as context:
        planned = plan_actions(context, article.remedy)
    assert apply_patches(copy, planned.patches, original=source) == sum(len(p.new) for p in planned.patches)
    report = verify_structures(copy, planned.expectations)
    assert (report.removed_records, report.hives) == (5, 1)
    with open_context(copy) as context:
        for step in article.remedy:
            for path in step.action.removed_files:
                assert context.ntfs.stat(path) is None
        system = context.hive("SYSTEM").hive
        assert system.state == "clean"
        assert [system.value("Setup", n).value for n in ("SetupType", "SystemSetupInProgress", "OOBEInProgress",
                                                         "SetupPhase")] == [0, 0, 0, 0]
        assert system.value("Setup", "CmdLine").value == "oobe\\windeploy.exe"  # untouched, or replayed from LOG1
        assert context.ntfs.stat("Windows\\OEM\\SetupComplete2.cmd") is not None


def test_the_repair_command_seams(tmp_path: Path) -> None:
    """``vhdfix.repair`` plans on what its inspection read and verifies the reopened copy through these."""
    source = unpack(FIXTURES / "provisioning-agent.vhd", tmp_path)
    article = next(a for a in load_catalog() if a.id == PA)
    with inspect(source, keep_open=True) as inspection:
        assert inspection.windows is not None and inspection.disk is not None
        hives_read = [reading.hive for reading in inspection.hives]
        context = context_of(inspection.disk, inspection.windows, inspection.hives)
        planned = plan_actions(context, article.remedy)
        assert [context.hive(name).hive for name in ("SYSTEM", "software")] == hives_read  # read once
        assert inspection.disk.read(0, 512)  # still open for the caller
    good, partial = copy_of(source, tmp_path, "good.vhd"), copy_of(source, tmp_path, "partial.vhd")
    apply_patches(good, planned.patches)
    apply_patches(partial, [p for p in planned.patches if "INDX block" not in p.reason])
    for path, passed in ((good, True), (partial, False)):
        with context_for(open_disk(path)) as copy:
            check = structures_check(copy, planned)
            assert check.passed is passed, check.detail
            assert structures_check(copy, WritePlan(planned.steps)).passed is None
