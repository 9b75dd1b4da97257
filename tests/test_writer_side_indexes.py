"""A removed file's entries in ``$Extend\\$ObjId:$O`` and ``$Extend\\$Reparse:$R`` go with it, as in Windows.

* The writer's sample volume (no tools needed): ``objid\\tagged.txt`` has an object id listed in the root of
  ``$O``; it is removed with its entry, the verifier proves it, dissect.ntfs (an independent reader) agrees, and
  what cannot be done exactly (an object id ``$O`` does not list, a malformed one) is refused. Damaged ``$O``
  roots give typed errors only.
* Scratch volumes that ntfs-3g fills with object ids and symbolic links (tests/support/side_index_volume.py):
  an ``$O`` entry in an INDX leaf, a ``$R`` entry in the root and one in an INDX leaf, a file in both; each
  removal gives the same ``$I30``, ``$O``, ``$R`` entries, bitmaps and record states as ntfs-3g's own ``rm`` and
  passes ntfsfix, ntfsresize and a read-only ntfs-3g walk. A NODE entry and the last entry of a leaf of
  ``$O`` are refused.
* The real Windows 10 disk of ``vss_1_vol`` (tests/support/real_volume.py), whose ``Windows\\OEM\\Unattend.wsf``
  is a real Windows file with a Windows-made object id: ``vhdfix.repair`` removes it, and the repaired volume
  passes the oracles with no ``$O`` entry left for the freed record, by our reader and by dissect.ntfs.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from dissect.ntfs import NTFS
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE
from dissect.ntfs.index import Index

import vhdfix
import vhdfix.errors as errors
from tests.support.oracles import ntfs3g, ntfs_checks, stat_walk
from tests.support.real_volume import REAL_FILE_RECORD, UNATTEND, ntfs_volume, provisioning_agent_disk
from tests.support.side_index_volume import (
    SideIndexVolume,
    build_reparse_volume,
    build_side_index_volume,
    read_side_index,
)
from tests.support.writer_support import (
    CASES,
    copy_of,
    delete_step,
    edit_record,
    record_number,
    snapshot,
    writer_cases,
)
from vhdfix.ntfs.index_node import OBJECT_ID_INDEX, REPARSE_INDEX, IndexKind
from vhdfix.ntfs.mft_record import parse_record
from vhdfix.verify import verify_structures
from vhdfix.writer import apply_patches, index_edit, open_context, plan_actions

OBJECT_ID_FILE_RECORD = 25  # $Extend\$ObjId on a volume mkntfs made
SAMPLE_OBJECT_ID = bytes(range(1, 17))  # what the writer fixture's build gave objid\tagged.txt


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return writer_cases(tmp_path_factory.mktemp("writer-cases"))


def _remove(volume: Path, copy: Path, *paths: str) -> object:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", *paths)])
    apply_patches(copy, planned.patches, original=volume)
    verify_structures(copy, planned.expectations)  # type: ignore[attr-defined]
    return planned


def _entries(image: Path, kind: IndexKind) -> list[tuple[bytes, int, int]]:
    return sorted((entry.raw_key, entry.record, entry.sequence) for _, entry in read_side_index(image, kind).entries())


def dissect_view_entries(volume: Path, path: str, name: str) -> list[tuple[bytes, bytes]]:
    """(key, data) of every entry of view index ``name`` of ``path``, read by dissect.ntfs (not by vhdfix)."""
    with volume.open("rb") as handle:
        record = NTFS(handle).mft.get(path)
        return sorted((entry.key, entry.data) for entry in Index(record, name).entries())


# --- the writer's sample volume ------------------------------------------------------------------------------


def test_an_object_id_in_the_root_of_o_is_removed_with_its_file(volume: Path, tmp_path: Path) -> None:
    target = record_number(volume, CASES["object_id"])
    before = dissect_view_entries(volume, "$Extend/$ObjId", "$O")
    assert [(key, data[:8]) for key, data in before] == [(SAMPLE_OBJECT_ID, struct.pack("<Q", target | 1 << 48))]
    copy = copy_of(volume, tmp_path, "removed.raw")
    planned = _remove(volume, copy, CASES["object_id"])
    reasons = [patch.reason for patch in planned.patches]  # type: ignore[attr-defined]
    assert any(reason.startswith(f"MFT record {OBJECT_ID_FILE_RECORD}: remove $O index-root entry "
                                 f"{SAMPLE_OBJECT_ID.hex()}") for reason in reasons)
    (removed,) = planned.expectations.removed  # type: ignore[attr-defined]
    assert removed.side_indexes == ((OBJECT_ID_FILE_RECORD, OBJECT_ID_INDEX),)
    report = verify_structures(copy, planned.expectations)  # type: ignore[attr-defined]
    assert (report.side_indexes, report.side_index_entries, report.removed_records) == (1, 0, 1)
    assert _entries(copy, OBJECT_ID_INDEX) == []
    assert dissect_view_entries(copy, "$Extend/$ObjId", "$O") == []
    with open_context(volume) as context:
        before_in_use = context.ntfs.fs.mft.get(OBJECT_ID_FILE_RECORD).header.BytesInUse
    with open_context(copy) as context:
        after_in_use = context.ntfs.fs.mft.get(OBJECT_ID_FILE_RECORD).header.BytesInUse
    assert before_in_use - after_in_use == 88  # one $O entry (flatcap "Files - $ObjId": 0x58 bytes)


def test_the_verifier_sees_an_o_entry_left_behind(volume: Path, tmp_path: Path) -> None:
    with open_context(volume) as context:
        planned = plan_actions(context, [delete_step("remove", CASES["object_id"])])
    copy = copy_of(volume, tmp_path, "partial.raw")
    apply_patches(copy, [p for p in planned.patches if "$O index-root" not in p.reason])
    with pytest.raises(errors.VerificationFailed, match=r"\$ObjId:\$O.*still names removed record"):
        verify_structures(copy, planned.expectations)


def _object_id_value(change: Callable[[bytearray, int], None]) -> Callable[[bytearray], None]:
    def edit(record: bytearray) -> None:
        attribute = parse_record(record).find(ATTRIBUTE_TYPE_CODE.OBJECT_ID)[0]
        change(record, attribute.offset)
    return edit


def _other_guid(record: bytearray, at: int) -> None:
    value_at = at + struct.unpack_from("<H", record, at + 20)[0]
    record[value_at] ^= 0xFF


def _short(record: bytearray, at: int) -> None:
    struct.pack_into("<I", record, at + 16, 8)  # the value length: half a GUID


@pytest.mark.parametrize(("edit", "error"), [
    (_object_id_value(_other_guid), errors.StaleIndexEntry),
    (_object_id_value(_short), errors.ObjectId),
], ids=["object-id-not-in-o", "object-id-too-short"])
def test_object_ids_that_cannot_be_removed_exactly_refuse(volume: Path, tmp_path: Path,
                                                          edit: Callable[[bytearray], None],
                                                          error: type[errors.RefusedUnsafe]) -> None:
    image = copy_of(volume, tmp_path, "edited.raw")
    edit_record(image, record_number(image, CASES["object_id"]), edit)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    with open_context(image) as context, pytest.raises(error) as refused:
        plan_actions(context, [delete_step("remove", CASES["object_id"])])
    assert refused.value.code == error.code
    assert "instead" in refused.value.message or "chkdsk" in refused.value.message
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest


def test_damaged_o_roots_give_typed_errors_only(volume: Path, tmp_path: Path) -> None:
    """Random damage to the $ObjId record's index root: the plan succeeds or a VhdfixError says why."""
    shuffle = random.Random(20261203)
    image = copy_of(volume, tmp_path, "damaged.raw")
    pristine = image.read_bytes()
    with open_context(image) as context:
        record = context.ntfs.fs.mft.get(OBJECT_ID_FILE_RECORD)
        parsed = parse_record(record.data)
    root = parsed.find(ATTRIBUTE_TYPE_CODE.INDEX_ROOT, "$O")[0]
    outcomes: dict[str, int] = {}
    for _ in range(60):
        image.write_bytes(pristine)
        flips = [(root.offset + shuffle.randrange(root.length), shuffle.randrange(256)) for _ in range(3)]

        def damage(buffer: bytearray, flips: list[tuple[int, int]] = flips) -> None:
            for at, value in flips:
                buffer[at] = value

        edit_record(image, OBJECT_ID_FILE_RECORD, damage)
        try:
            with open_context(image) as context:
                plan_actions(context, [delete_step("remove", CASES["object_id"])])
            outcome = "planned"
        except errors.VhdfixError as exc:
            outcome = exc.code
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) - {"planned"}, outcomes  # some damage is noticed


# --- a scratch volume with $O in INDX blocks, and $R ---------------------------------------------------------


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> SideIndexVolume:
    return build_side_index_volume(tmp_path_factory.mktemp("side-indexes"))


def _ntfs3g_rm(copy: Path, paths: list[str]) -> None:
    with ntfs3g(copy, read_only=False) as root:
        for path in paths:
            (root / path.replace("\\", "/")).unlink()


@pytest.mark.oracle
@pytest.mark.parametrize("case", ["leaf_entry", "link", "both"])
def test_side_index_removals_match_ntfs_3g(sides: SideIndexVolume, tmp_path: Path, case: str) -> None:
    path = getattr(sides, case)
    ours, theirs = copy_of(sides.image, tmp_path, "vhdfix.raw"), copy_of(sides.image, tmp_path, "ntfs-3g.raw")
    planned = _remove(sides.image, ours, path)
    _ntfs3g_rm(theirs, [path])
    (removed,) = planned.expectations.removed  # type: ignore[attr-defined]
    assert {kind for _, kind in removed.side_indexes} == \
        {"leaf_entry": {OBJECT_ID_INDEX}, "link": {REPARSE_INDEX}, "both": {OBJECT_ID_INDEX, REPARSE_INDEX}}[case]
    for kind in (OBJECT_ID_INDEX, REPARSE_INDEX):
        mine, reference = _entries(ours, kind), _entries(theirs, kind)
        assert mine == reference
        assert removed.record not in {record for _, record, _ in mine}
        assert len(mine) == len(_entries(sides.image, kind)) - (kind in {k for _, k in removed.side_indexes})
    for name, kind in (("$Extend/$ObjId", "$O"), ("$Extend/$Reparse", "$R")):
        assert dissect_view_entries(ours, name, kind) == dissect_view_entries(theirs, name, kind)
    mine_shot = snapshot(ours, ["side"], [removed.record])
    reference_shot = snapshot(theirs, ["side"], [removed.record])
    assert mine_shot.entries == reference_shot.entries
    assert (mine_shot.cluster_bitmap, mine_shot.mft_bitmap) == (reference_shot.cluster_bitmap,
                                                                reference_shot.mft_bitmap)
    assert mine_shot.records == reference_shot.records == {removed.record: (0, 2, 0)}
    ntfs_checks(ours)
    with ntfs3g(sides.image) as root:
        before = stat_walk(root)
    with ntfs3g(ours) as root:
        after = stat_walk(root)
    assert after == {key: value for key, value in before.items() if key != path.replace("\\", "/")}


@pytest.mark.oracle
def test_an_r_entry_in_an_indx_leaf_is_removed_as_ntfs_3g_does(tmp_path_factory: pytest.TempPathFactory,
                                                               tmp_path: Path) -> None:
    image, link = build_reparse_volume(tmp_path_factory.mktemp("reparse-points"))
    assert read_side_index(image, REPARSE_INDEX).blocks
    ours, theirs = copy_of(image, tmp_path, "vhdfix.raw"), copy_of(image, tmp_path, "ntfs-3g.raw")
    planned = _remove(image, ours, link)
    assert any(" of $R in MFT record " in patch.reason for patch in planned.patches)  # type: ignore[attr-defined]
    _ntfs3g_rm(theirs, [link])
    assert _entries(ours, REPARSE_INDEX) == _entries(theirs, REPARSE_INDEX)
    assert len(_entries(ours, REPARSE_INDEX)) == len(_entries(image, REPARSE_INDEX)) - 1
    assert dissect_view_entries(ours, "$Extend/$Reparse", "$R") == dissect_view_entries(theirs, "$Extend/$Reparse",
                                                                                        "$R")
    ntfs_checks(ours)


@pytest.mark.oracle
@pytest.mark.parametrize(("case", "error"), [("node_entry", errors.IndexNodeEntry),
                                             ("last_entry", errors.IndexLastEntry)])
def test_o_entries_that_need_the_tree_rebalanced_refuse(sides: SideIndexVolume, case: str,
                                                        error: type[errors.RefusedUnsafe]) -> None:
    digest = hashlib.sha256(sides.image.read_bytes()).hexdigest()
    with open_context(sides.image) as context, pytest.raises(error) as refused:
        plan_actions(context, [delete_step("remove", getattr(sides, case))])
    assert "$Extend\\$ObjId:$O" in refused.value.message and "instead" in refused.value.message
    assert hashlib.sha256(sides.image.read_bytes()).hexdigest() == digest


@pytest.mark.oracle
@pytest.mark.parametrize("block_size", [0, 3, 1 << 20])
def test_an_o_root_with_an_impossible_block_size_is_corrupt(sides: SideIndexVolume, tmp_path: Path,
                                                            block_size: int) -> None:
    image = copy_of(sides.image, tmp_path, "bad-block-size.raw")

    def edit(record: bytearray) -> None:
        root = parse_record(record).find(ATTRIBUTE_TYPE_CODE.INDEX_ROOT, "$O")[0]
        struct.pack_into("<I", record, root.offset + root.value_offset + 8, block_size)  # BytesPerIndexBuffer

    edit_record(image, OBJECT_ID_FILE_RECORD, edit)
    with open_context(image) as context, pytest.raises(errors.CorruptVolume, match="index blocks of"):
        plan_actions(context, [delete_step("remove", sides.leaf_entry)])


@pytest.mark.oracle
def test_an_index_larger_than_the_memory_cap_refuses(sides: SideIndexVolume, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_edit, "MAX_INDEX_BYTES", 2 * 4096)  # $O has 5 blocks in use
    with open_context(sides.image) as context, pytest.raises(errors.RefusedUnsafe, match="INDX blocks in use"):
        plan_actions(context, [delete_step("remove", sides.leaf_entry)])


# --- the real Windows 10 volume ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_disk(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return provisioning_agent_disk(realdata, tmp_path_factory.mktemp("vss_1_vol"))


@pytest.mark.oracle
@pytest.mark.realdata
def test_a_real_windows_file_with_an_object_id_is_repaired_away(real_disk: Path, tmp_path: Path) -> None:
    before_volume = ntfs_volume(real_disk, tmp_path, "before")
    before = dissect_view_entries(before_volume, "$Extend/$ObjId", "$O")
    assert {struct.unpack_from("<Q", data)[0] & 0xFFFFFFFFFFFF for _, data in before} == {5, REAL_FILE_RECORD}

    output = tmp_path / "repaired.raw"
    result = vhdfix.repair(real_disk, output, format="raw")
    summary = result.to_json()
    assert result.exit_code == 0, summary
    checks = {check["name"]: check for check in summary["verification"]["checks"]}  # type: ignore[index]
    assert all(check["passed"] for check in checks.values()), checks
    assert (checks["writer"]["side_indexes"], checks["writer"]["side_index_entries"]) == (1, 1)
    assert checks["untouched-files"]["removed"] == [UNATTEND]

    after_volume = ntfs_volume(output, tmp_path, "after")
    ntfs_checks(after_volume)
    with ntfs3g(before_volume) as root:
        walked_before = stat_walk(root)
    with ntfs3g(after_volume) as root:
        walked_after = stat_walk(root)
    assert walked_after == {key: value for key, value in walked_before.items()
                            if key != UNATTEND.replace("\\", "/")}
    # No entry for the freed record remains in $O: by vhdfix's reader, and by dissect.ntfs.
    assert [record for _, record, _ in _entries(output, OBJECT_ID_INDEX)] == [5]
    after = dissect_view_entries(after_volume, "$Extend/$ObjId", "$O")
    assert after == [entry for entry in before if struct.unpack_from("<Q", entry[1])[0] & 0xFFFF_FFFF_FFFF == 5]
    with open_context(output) as context:
        assert context.ntfs.record(UNATTEND) is None
        freed = context.ntfs.fs.mft.get(REAL_FILE_RECORD)
        assert not freed.header.Flags & 1 and freed.header.SequenceNumber == 2
