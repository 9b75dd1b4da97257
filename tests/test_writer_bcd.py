"""``bcdedit /store <BCD> /deletevalue {default} safeboot`` on Gen1 (NTFS System Reserved) and Gen2 (FAT32 ESP) disks.

The result must equal hivex deleting the same key, read correctly in
dissect.regf and regipy, and change only the BCD's own bytes (on FAT: only
bytes inside the file's clusters, so no FAT or directory entry changes).
"""

from __future__ import annotations

import io
import shutil
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dissect.regf import regf

from fixtures.regf_builder import (
    BuiltHive,
    HiveOptions,
    LogEntrySpec,
    binary,
    build_hive,
    build_hvle_log,
    sz,
    with_sequence,
)
from tests.conftest import require_tool
from tests.support.bcd_disks import BOOT_MANAGER, default_loader, gen1_disk, gen2_disk, safeboot_bcd
from tests.support.oracles import hivex_export, run
from tests.support.writer_support import one_article_catalog, step
from vhdfix.disk import open_disk
from vhdfix.errors import HiveDirty
from vhdfix.fat import FatFile, FatVolume
from vhdfix.partitions import read_partition_table
from vhdfix.registry.base_block import checksum
from vhdfix.repair import repair
from vhdfix.verify import verify_structures
from vhdfix.windows.bcd import BcdReading, find_bcd
from vhdfix.writer import apply_patches, open_context, plan_actions

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
SAFEBOOT = {"type": "delete-bcd-elements", "elements": [{"object": "{default}", "element": "25000080"}]}


@pytest.fixture(scope="module")
def bcd(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return safeboot_bcd(tmp_path_factory.mktemp("bcd"))


def _store(image: Path) -> tuple[BcdReading, FatFile | None, bytes]:
    """The disk's BCD, where its bytes lie on a FAT volume, and its (recovered) hive bytes."""
    disk = open_disk(image)
    try:
        store, _ = find_bcd(disk, read_partition_table(disk))
        assert store is not None and store.hive is not None
        fat = store.volume.file(store.path) if isinstance(store.volume, FatVolume) else None
        return store, fat, store.hive.data
    finally:
        disk.close()


@pytest.mark.parametrize("generation", ["gen1", "gen2"])
def test_delete_safeboot_like_hivex(bcd: bytes, generation: str, tmp_path: Path) -> None:
    disk = (gen1_disk if generation == "gen1" else gen2_disk)(tmp_path, bcd)
    copy = tmp_path / "copy.raw"
    shutil.copyfile(disk, copy)
    with open_context(disk) as context:
        planned = plan_actions(context, [step("safeboot", SAFEBOOT)], now=WHEN)
    store, fat, before = _store(disk)
    assert planned.patches and planned.expectations.hives[0].volume == store.partition.offset
    assert any("element 25000080 (safeboot)" in patch.reason for patch in planned.patches)
    if fat is not None:  # only bytes of the BCD's own clusters
        inside = [(store.partition.offset + at, store.partition.offset + at + size) for at, size in fat.runs]
        assert all(any(lo <= patch.offset and patch.end <= hi for lo, hi in inside) for patch in planned.patches)
    apply_patches(copy, planned.patches, original=disk)
    report = verify_structures(copy, planned.expectations)
    assert report.hives == 1
    after_store, _, after = _store(copy)
    assert len(after) == len(before) and after_store.hive.state == "clean"
    loader = default_loader(before)
    element = f"Objects\\{loader}\\Elements\\25000080"
    assert after_store.hive.key(element) is None
    (tmp_path / "ours").write_bytes(after)
    theirs = tmp_path / "theirs"
    theirs.write_bytes(before)
    script = tmp_path / "delete.reg"
    script.write_text(f"Windows Registry Editor Version 5.00\r\n\r\n[-HKEY_LOCAL_MACHINE\\BCD\\{element}]\r\n\r\n")
    merged = run(require_tool("hivexregedit"), "--merge", "--prefix", "HKEY_LOCAL_MACHINE\\BCD", theirs, script)
    assert merged.returncode == 0, merged.stderr
    assert hivex_export(tmp_path / "ours") == hivex_export(theirs)
    elements = regf.RegistryHive(io.BytesIO(after)).open(f"Objects\\{loader}\\Elements")
    assert "25000080" not in {key.name for key in elements.subkeys()}
    from regipy.registry import RegistryHive

    subkeys = {key.name for key in RegistryHive(str(tmp_path / "ours")).get_key(
        f"\\Objects\\{loader}\\Elements").iter_subkeys()}
    assert ("25000080" not in subkeys and "23000003" not in subkeys) or "25000080" not in subkeys


def test_an_absent_element_is_a_note_and_no_patch(bcd: bytes, tmp_path: Path) -> None:
    disk = gen2_disk(tmp_path, bcd)
    with open_context(disk) as context:
        planned = plan_actions(context, [step("x", {"type": "delete-bcd-elements",
                                                    "elements": [{"object": "{default}", "element": "26000010"}]})])
    assert planned.patches == []
    assert planned.notes["x"] == [f"BCD object {default_loader(bcd)} ({{default}}) element 26000010 (26000010) "
                                  "does not exist; nothing to delete"]


def test_a_dirty_bcd_without_usable_logs_is_refused(bcd: bytes, tmp_path: Path) -> None:
    dirty = bytearray(bcd)
    struct.pack_into("<I", dirty, 4, struct.unpack_from("<I", dirty, 8)[0] + 1)
    struct.pack_into("<I", dirty, 508, checksum(dirty))
    disk = gen1_disk(tmp_path, bytes(dirty))
    with open_context(disk) as context, pytest.raises(HiveDirty) as refused:
        plan_actions(context, [step("safeboot", SAFEBOOT)])
    assert refused.value.code == "hive-dirty"


SAFEBOOT_REMEDY = """id = "delete-safeboot"
text = "Delete the safeboot element of the default boot entry"
documented = false
source = "osstartup-loading-windows-files-1.md: bcdedit /store <X>:\\\\boot\\\\bcd /deletevalue {default} safeboot"
action = { type = "delete-bcd-elements", elements = [{ object = "{default}", element = "25000080" }] }
"""


@pytest.mark.parametrize(("generation", "output_format"), [("gen1", "vhd-fixed"), ("gen2", "same")])
def test_repair_writes_the_bcd_edit_into_a_verified_copy(bcd: bytes, generation: str, output_format: str,
                                                         tmp_path: Path) -> None:
    disk = (gen1_disk if generation == "gen1" else gen2_disk)(tmp_path, bcd)
    catalog = one_article_catalog(tmp_path, "TEST-SAFEBOOT", SAFEBOOT_REMEDY)
    dry = repair(disk, tmp_path / "dry.vhd", format=output_format, extended=["delete-safeboot"], dry_run=True,
                 catalog=catalog)
    assert dry.exit_code == 0 and dry.to_json()["plan"]["steps"][0]["patches"], dry.message
    result = repair(disk, tmp_path / "out.vhd", format=output_format, extended=["delete-safeboot"], catalog=catalog)
    assert result.exit_code == 0, result.message
    assert result.verified
    again = repair(tmp_path / "out.vhd", tmp_path / "again.vhd", extended=["delete-safeboot"], catalog=catalog)
    assert again.exit_code == 1 and again.outcome == "nothing-to-repair"


def _built_bcd(extra: dict[str, object]) -> tuple[BuiltHive, HiveOptions]:
    loader = "{11111111-2222-3333-4444-555555555555}"
    elements = {"11000001": {"Element": binary(bytes(8))}, "23000003": {"Element": sz(loader)}}
    tree = {"Description": {"KeyName": sz("BCD00000000")},
            "Objects": {BOOT_MANAGER: {"Elements": elements},
                        loader: {"Elements": {"12000004": {"Element": sz("Windows Server")}, **extra}}}}
    options = HiveOptions(file_name="\\Device\\HarddiskVolume1\\EFI\\Microsoft\\Boot\\BCD", pad_to=65536)
    return build_hive(tree, options), options


def test_a_dirty_bcd_is_recovered_from_its_log_under_the_edit(tmp_path: Path) -> None:
    """The primary is stale (seq 2/1); BCD.LOG1 holds entry 2, which added safeboot and element 250000c2."""
    old, options = _built_bcd({})
    new, _ = _built_bcd({"25000080": {"Element": binary(bytes(8))}, "250000c2": {"Element": binary(b"\1" + bytes(7))}})
    primary = with_sequence(old, 2, 1).data
    log = build_hvle_log(options, new.root_offset, old.hbins_size, 2, [LogEntrySpec(2, old.hbins, new.hbins)])
    disk = gen2_disk(tmp_path, primary, {".LOG1": log, ".LOG2": b""})
    copy = tmp_path / "copy.raw"
    shutil.copyfile(disk, copy)
    with open_context(disk) as context:
        planned = plan_actions(context, [step("safeboot", SAFEBOOT)], now=WHEN)
    assert planned.expectations.hives[0].recovered
    assert any("write back the hive recovered from BCD.LOG1 (1 entries)" in patch.reason for patch in planned.patches)
    apply_patches(copy, planned.patches, original=disk)
    verify_structures(copy, planned.expectations)
    store, _, after = _store(copy)
    assert store.hive.state == "clean" and len(after) == len(primary)
    elements = "Objects\\{11111111-2222-3333-4444-555555555555}\\Elements"
    assert store.hive.subkeys(elements) == ["12000004", "250000c2"]  # 250000c2 came from the log
