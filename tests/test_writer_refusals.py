"""Every refusal has its own fixture and its own code, and nothing is written when one fires.

Cases that the writer's sample volume holds as built by ntfs-3g (node entry, last entry of a block, hard link,
attribute list, compressed file) are used as they are; volume states (unclean or v2.0 log, dirty
flag, hibernation) and record damage are byte-patched into a copy here.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

import vhdfix.errors as errors
from tests.support.vhd_builder import BLOCK_SIZE, VhdSpec, write_vhd
from tests.support.writer_support import (
    CASES,
    copy_of,
    delete_step,
    edit_record,
    record_number,
    restart_page,
    unpack,
    write_into_file,
    writer_cases,
)
from vhdfix.disk import open_disk
from vhdfix.disk.crc32c import checksum_with_field_zeroed
from vhdfix.ntfs.mft_record import parse_record
from vhdfix.plan import BytePatch
from vhdfix.writer import apply_patches, open_context, plan_actions
from vhdfix.writer.container_patch import map_for_write
from vhdfix.writer.directory_index import read_directory_index
from vhdfix.writer.gates import check_container
from vhdfix.writer.index_edit import block_unit
from vhdfix.writer.volume_view import VolumeView

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return writer_cases(tmp_path_factory.mktemp("writer-cases"))


def _refused(image: Path, path: str, error: type[errors.RefusedUnsafe]) -> errors.RefusedUnsafe:
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    with open_context(image) as context, pytest.raises(error) as refused:
        plan_actions(context, [delete_step("remove", path)])
    assert refused.value.code == error.code
    assert hashlib.sha256(image.read_bytes()).hexdigest() == digest
    return refused.value


@pytest.mark.parametrize(("case", "error"), [
    ("node_entry", errors.IndexNodeEntry),
    ("last_entry", errors.IndexLastEntry),
    ("hard_link", errors.HardLink),
    ("attribute_list", errors.AttributeList),
    ("compressed", errors.TargetCompressed),
])
def test_files_the_delete_cannot_do_exactly(volume: Path, case: str, error: type[errors.RefusedUnsafe]) -> None:
    refusal = _refused(volume, CASES[case], error)
    assert "instead" in refusal.message  # each says what to do


@pytest.mark.parametrize(("page", "error"), [
    (restart_page(1, 1, 0, 0), errors.LogFileUnclean),
    (restart_page(2, 0, 0, 0x2), errors.LogFileFastStartup),
    (restart_page(3, 0, 0, 0x2), errors.LogFileUnknown),
], ids=["unclean", "v2.0", "v3.0"])
def test_logfile_states_refuse(volume: Path, tmp_path: Path, page: bytes, error: type[errors.RefusedUnsafe]) -> None:
    image = copy_of(volume, tmp_path, "log.raw")
    write_into_file(image, 2, 0, page + page)
    refusal = _refused(image, CASES["non_resident"], error)
    assert "shut it down cleanly" in refusal.message


def test_a_clean_v11_logfile_is_accepted(volume: Path, tmp_path: Path) -> None:
    image = copy_of(volume, tmp_path, "log.raw")
    write_into_file(image, 2, 0, restart_page(1, 1, 0, 0x2) * 2)
    with open_context(image) as context:
        assert context.state.logfile.status == "clean"
        assert plan_actions(context, [delete_step("remove", CASES["non_resident"])]).patches


def _set_dirty(record: bytearray) -> None:
    info = parse_record(record).find(ATTRIBUTE_TYPE_CODE.VOLUME_INFORMATION)[0]
    at = info.offset + info.value_offset + 10  # VOLUME_INFORMATION.flags
    struct.pack_into("<H", record, at, struct.unpack_from("<H", record, at)[0] | 1)


def test_the_dirty_flag_refuses(volume: Path, tmp_path: Path) -> None:
    image = copy_of(volume, tmp_path, "dirty.raw")
    edit_record(image, 3, _set_dirty)
    assert "chkdsk" in _refused(image, CASES["non_resident"], errors.VolumeDirty).message


def test_a_hibernated_volume_refuses(volume: Path, tmp_path: Path) -> None:
    image = copy_of(volume, tmp_path, "hiber.raw")
    write_into_file(image, CASES["hiberfil"], 0, b"hibr")
    _refused(image, CASES["non_resident"], errors.VolumeHibernated)


def _attribute_flag(kind: int, flag: int) -> Callable[[bytearray], None]:
    def edit(record: bytearray) -> None:
        attribute = parse_record(record).find(kind)[0]
        struct.pack_into("<H", record, attribute.offset + 12, attribute.flags | flag)
    return edit


def _charge_quota(record: bytearray) -> None:
    """Grow ntfs-3g's 48-byte $STANDARD_INFORMATION to the 72-byte NTFS 3.x form with QuotaCharged set."""
    parsed = parse_record(record)
    info = parsed.find(ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION)[0]
    assert info.value_length == 48
    value = info.value(record) + struct.pack("<IIQQ", 0, 0x100, 4096, 0)  # owner, security id, quota, usn
    grown = bytearray(record[info.offset:info.offset + info.value_offset]) + value
    struct.pack_into("<I", grown, 4, len(grown))
    struct.pack_into("<I", grown, 16, len(value))
    body = grown + record[info.end:parsed.bytes_in_use]
    record[info.offset:info.offset + len(body)] = body
    struct.pack_into("<I", record, 24, parsed.bytes_in_use + 24)


def _bump_sequence(record: bytearray) -> None:
    struct.pack_into("<H", record, 16, struct.unpack_from("<H", record, 16)[0] + 1)


@pytest.mark.parametrize(("edit", "error"), [
    (_attribute_flag(ATTRIBUTE_TYPE_CODE.DATA, 0x8000), errors.TargetSparse),
    (_attribute_flag(ATTRIBUTE_TYPE_CODE.DATA, 0x4000), errors.EncryptedFile),
    (_charge_quota, errors.QuotaCharged),
    (_bump_sequence, errors.StaleIndexEntry),
], ids=["sparse", "encrypted", "quota", "stale-entry"])
def test_record_states_refuse(volume: Path, tmp_path: Path, edit: Callable[[bytearray], None],
                              error: type[errors.RefusedUnsafe]) -> None:
    image = copy_of(volume, tmp_path, "record.raw")
    edit_record(image, record_number(image, CASES["non_resident"]), edit)
    _refused(image, CASES["non_resident"], error)


def test_a_torn_record_refuses(volume: Path, tmp_path: Path) -> None:
    image = copy_of(volume, tmp_path, "torn.raw")

    def tear(raw: bytearray) -> None:
        raw[1022] ^= 0xFF  # the second stride no longer ends with the update sequence number

    edit_record(image, record_number(image, CASES["non_resident"]), tear, refix=False)
    _refused(image, CASES["non_resident"], errors.TornFixup)


def test_directories_and_metafiles_are_never_removed(volume: Path) -> None:
    _refused(volume, "big", errors.IsDirectory)
    assert _refused(volume, "$MFT", errors.RefusedUnsafe).code == "refused-unsafe"


def test_a_differencing_disk_refuses(tmp_path: Path) -> None:
    write_vhd(tmp_path / "parent.vhd", VhdSpec(4 * BLOCK_SIZE, b"P" * 16, {0: bytes(512)}))
    write_vhd(tmp_path / "child.vhd", VhdSpec(4 * BLOCK_SIZE, b"C" * 16, {1: bytes(512)}, b"P" * 16, "parent.vhd",
                                             [(b"W2ru", ".\\parent.vhd")]))
    disk = open_disk(tmp_path / "child.vhd")
    try:
        with pytest.raises(errors.DifferencingTarget):
            check_container(disk)
    finally:
        disk.close()
    with pytest.raises(errors.DifferencingTarget) as refused:
        apply_patches(tmp_path / "child.vhd", [BytePatch(512, bytes(1), b"\1", "test")])
    assert refused.value.code == "differencing-target"


def test_writes_outside_stored_space_refuse(tmp_path: Path) -> None:
    path = tmp_path / "sparse.vhd"
    write_vhd(path, VhdSpec(4 * BLOCK_SIZE, b"D" * 16, {0: b"\1" * 512}))
    disk = open_disk(path)
    try:
        assert map_for_write(disk, 10, 20)[0].length == 20
        with pytest.raises(errors.TargetNotAllocated, match="sector-bitmap bit is clear"):
            map_for_write(disk, 510, 4)  # crosses into sector 1, stored as data but not marked
        with pytest.raises(errors.TargetNotAllocated, match="not allocated"):
            map_for_write(disk, 2 * BLOCK_SIZE, 4)
    finally:
        disk.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(errors.TargetNotAllocated):
        apply_patches(path, [BytePatch(0, b"\1", b"\2", "ok"), BytePatch(2 * BLOCK_SIZE, b"\0", b"\1", "not stored")])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest  # checked before the first write


def test_a_vhdx_with_a_log_refuses(tmp_path: Path) -> None:
    source = unpack(FIXTURES / "matrix" / "provisioning-agent-mbr-vhdx-dynamic.vhdx.xz", tmp_path)
    image = copy_of(source, tmp_path, "logged.vhdx")
    with image.open("r+b") as handle:
        headers = []
        for offset in (64 * 1024, 128 * 1024):
            handle.seek(offset)
            headers.append((offset, bytearray(handle.read(4096))))
        offset, header = max(headers, key=lambda item: struct.unpack_from("<Q", item[1], 8)[0])
        header[48:64] = b"\x11" * 16  # a LogGuid: the log must be replayed before any write
        struct.pack_into("<I", header, 4, checksum_with_field_zeroed(bytes(header), 4))
        handle.seek(offset)
        handle.write(header)
    with open_context(image) as context, pytest.raises(errors.VhdxLogPresent) as refused:
        plan_actions(context, [delete_step("remove", "Windows\\OEM\\Unattend.wsf")])
    assert refused.value.code == "vhdx-log-present"
    with pytest.raises(errors.VhdxLogPresent):
        apply_patches(image, [])


def test_every_refusal_has_its_own_code() -> None:
    refusals = [cls for cls in vars(errors).values()
                if isinstance(cls, type) and issubclass(cls, errors.RefusedUnsafe)]
    codes = {cls.code for cls in refusals}
    assert len(codes) == len(refusals)
    assert codes >= {"refused-unsafe", "vhdx-log-present", "logfile-unclean", "logfile-fast-startup", "logfile-unknown",
                     "volume-dirty", "volume-hibernated", "hive-dirty", "hive-recovered-image-too-large",
                     "hive-no-free-space", "hive-shape-unsupported", "target-not-allocated", "target-compressed",
                     "target-sparse",
                     "index-node-entry", "index-last-entry", "stale-index-entry", "hard-link", "attribute-list",
                     "object-id", "reparse-point", "extended-attributes", "quota-charged", "encrypted-file",
                     "is-directory", "torn-fixup", "differencing-target", "value-not-found", "value-type-mismatch",
                     "value-too-long", "old-bytes-mismatch", "verification-failed"}


def _retype_object_id(type_code: int) -> Callable[[bytearray], None]:
    """Turn the file's $OBJECT_ID into another attribute type that the delete must refuse."""
    def edit(record: bytearray) -> None:
        attribute = parse_record(record).find(ATTRIBUTE_TYPE_CODE.OBJECT_ID)[0]
        struct.pack_into("<I", record, attribute.offset, type_code)
    return edit


@pytest.mark.parametrize(("type_code", "error"), [
    (ATTRIBUTE_TYPE_CODE.REPARSE_POINT, errors.StaleIndexEntry),  # a reparse point that $Reparse:$R does not list
    (ATTRIBUTE_TYPE_CODE.EA, errors.ExtendedAttributes),
    (ATTRIBUTE_TYPE_CODE.LOGGED_UTILITY_STREAM, errors.ExtendedAttributes),
], ids=["unindexed-reparse-point", "ea", "logged-utility-stream"])
def test_side_structures_refuse(volume: Path, tmp_path: Path, type_code: int,
                                error: type[errors.RefusedUnsafe]) -> None:
    image = copy_of(volume, tmp_path, "retyped.raw")
    edit_record(image, record_number(image, CASES["object_id"]), _retype_object_id(type_code))
    _refused(image, CASES["object_id"], error)


def test_a_torn_index_block_refuses(volume: Path, tmp_path: Path) -> None:
    image = copy_of(volume, tmp_path, "torn-indx.raw")
    with open_context(image) as context:
        view = VolumeView(context.disk, context.partition.offset, context.ntfs)
        index = read_directory_index(view, context.ntfs.record("big").segment)
        at, _ = block_unit(view, index, next(iter(index.blocks))).ranges[0]
    with image.open("r+b") as handle:
        handle.seek(at + 1022)
        handle.write(b"\xee\xee")
    _refused(image, CASES["leaf_entries"][0], errors.TornFixup)
