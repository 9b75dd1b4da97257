"""Registry actions through repair and the planner, on disks carrying real Windows 10 hives.

* ``--reset-setup-state`` on the real Windows 10 SYSTEM hive (base-block KTM flag set, as on every Windows 10
  SYSTEM hive) is written, with the TxR warning in the plan;
* ``delete-values`` removes SOFTWARE ``Policies\\Microsoft\\Windows\\System\\CleanupProfiles``
  (``reg delete "HKLM\\BROKENSOFTWARE\\Policies\\Microsoft\\Windows\\System" /v CleanupProfiles /f``);
* the CrashControl dump settings (``set-values`` with ``create``) on ControlSet001, ControlSet002 skipped.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from dissect.regf import regf

from fixtures.regf_builder import HiveOptions, build_hive, dword, expand_sz
from tests.conftest import read_realdata, require_tool
from tests.support.bcd_disks import BCD, SYSTEM, gen1_disk, safeboot_bcd
from tests.support.oracles import hivex_export
from tests.support.writer_support import one_article_catalog, step
from vhdfix.registry.base_block import read_base_block
from vhdfix.repair import repair
from vhdfix.verify import verify_structures
from vhdfix.writer import apply_patches, open_context, plan_actions

POLICY = "Policies\\Microsoft\\Windows\\System"
CLEANUP = {"type": "delete-values", "values": [{"hive": "SOFTWARE", "key": POLICY, "name": "CleanupProfiles"}]}
CRASH = "ControlSet00{}\\Control\\CrashControl"
DUMP = {"type": "set-values", "values": [
    {"hive": "SYSTEM", "key": CRASH.format(n), "name": name, "value": value, "value_type": kind, "create": True}
    for n in (1, 2)
    for name, value, kind in (("CrashDumpEnabled", 1, "REG_DWORD"), ("DumpFile", "%SystemRoot%\\MEMORY.DMP",
                                                                      "REG_EXPAND_SZ"), ("NMICrashDump", 1,
                                                                                         "REG_DWORD"))]}


def _oobe_system(folder: Path) -> bytes:
    """The real Windows 10 SYSTEM hive put into the OOBE state by hivex (as a stuck OOBE leaves it)."""
    hive = folder / "SYSTEM"
    hive.write_bytes(read_realdata(SYSTEM))
    script = folder / "oobe.reg"
    script.write_text('Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup]\r\n'
                      '"OOBEInProgress"=dword:00000001\r\n"SetupType"=dword:00000002\r\n'
                      '"SystemSetupInProgress"=dword:00000001\r\n\r\n')
    merged = subprocess.run([require_tool("hivexregedit"), "--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM", hive,
                             script], capture_output=True, text=True, check=False)
    assert merged.returncode == 0, merged.stderr
    return hive.read_bytes()


def _software(cleanup: bool) -> bytes:
    system = {"CleanupProfiles": dword(1)} if cleanup else {}
    tree = {"Policies": {"Microsoft": {"Windows": {"System": {**system, "EnableSmartScreen": dword(0)}}}},
            "Microsoft": {"Windows NT": {"CurrentVersion": {"CurrentBuild": expand_sz("9600")}}}}
    return build_hive(tree, HiveOptions(file_name="\\SystemRoot\\System32\\Config\\SOFTWARE", pad_to=65536)).data


def _read(image: Path, name: str, folder: Path) -> bytes:
    with open_context(image) as context:
        reading = context.hive(name)
        assert reading.hive is not None and reading.hive.state == "clean"
        data = reading.hive.data
    (folder / f"{name}-out").write_bytes(data)
    return data


def test_reset_setup_state_on_a_real_windows_10_system_hive(tmp_path: Path) -> None:
    system = _oobe_system(tmp_path)
    assert read_base_block(system).flags & 1  # hivex kept the KTM flag
    disk = gen1_disk(tmp_path, read_realdata(BCD), hives={"SYSTEM": system})  # a BCD without safeboot: OOBE alone
    result = repair(disk, tmp_path / "out.raw", extended=["reset-setup-state"])
    assert result.exit_code == 0, result.message
    assert result.article.id == "OSStartUp-OOBE" and result.verified
    notes = result.to_json()["plan"]["steps"]
    assert any("KTM flag" in note and "config\\TxR" in note for step_json in notes for note in step_json["notes"])
    after = _read(tmp_path / "out.raw", "SYSTEM", tmp_path)
    setup = regf.RegistryHive(io.BytesIO(after)).open("Setup")
    assert [setup.value(name).value for name in ("SetupType", "SystemSetupInProgress", "OOBEInProgress")] == [0, 0, 0]
    export = hivex_export(tmp_path / "SYSTEM-out", "\\Setup")
    assert '"OOBEInProgress"=dword:00000000' in export and '"SetupType"=dword:00000000' in export


def test_delete_cleanup_profiles(tmp_path: Path) -> None:
    disk = gen1_disk(tmp_path, safeboot_bcd(tmp_path),
                     hives={"SYSTEM": read_realdata(SYSTEM), "SOFTWARE": _software(True)})
    copy = tmp_path / "copy.raw"
    copy.write_bytes(disk.read_bytes())
    with open_context(disk) as context:
        planned = plan_actions(context, [step("cleanup", CLEANUP)])
    assert planned.patches and all(patch.reason.startswith("cluster") for patch in planned.patches)
    assert any("delete SOFTWARE\\Policies\\Microsoft\\Windows\\System\\CleanupProfiles" in patch.reason
               for patch in planned.patches)
    apply_patches(copy, planned.patches, original=disk)
    assert verify_structures(copy, planned.expectations).hives == 1
    after = _read(copy, "SOFTWARE", tmp_path)
    export = hivex_export(tmp_path / "SOFTWARE-out", "\\" + POLICY)
    assert "CleanupProfiles" not in export and '"EnableSmartScreen"=dword:00000000' in export
    assert [v.name for v in regf.RegistryHive(io.BytesIO(after)).open(POLICY).values()] == ["EnableSmartScreen"]
    from regipy.registry import RegistryHive

    assert [v.name for v in RegistryHive(str(tmp_path / "SOFTWARE-out")).get_key("\\" + POLICY).iter_values()] == \
        ["EnableSmartScreen"]
    with open_context(copy) as context:  # a second run finds nothing to delete
        again = plan_actions(context, [step("cleanup", CLEANUP)])
    assert again.patches == [] and again.notes["cleanup"] == [
        "SOFTWARE\\Policies\\Microsoft\\Windows\\System\\CleanupProfiles does not exist; nothing to delete"]


def test_crash_dump_settings_across_control_sets(tmp_path: Path) -> None:
    disk = gen1_disk(tmp_path, safeboot_bcd(tmp_path))
    copy = tmp_path / "copy.raw"
    copy.write_bytes(disk.read_bytes())
    with open_context(disk) as context:
        planned = plan_actions(context, [step("dump", DUMP)])
    notes = planned.notes["dump"]
    assert "SYSTEM\\ControlSet002\\Control\\CrashControl does not exist (vhdfix does not create keys); skipped" in notes
    apply_patches(copy, planned.patches, original=disk)
    verify_structures(copy, planned.expectations)
    after = _read(copy, "SYSTEM", tmp_path)
    key = regf.RegistryHive(io.BytesIO(after)).open(CRASH.format(1))
    assert (key.value("CrashDumpEnabled").value, key.value("NMICrashDump").value, key.value("DumpFile").value) == \
        (1, 1, "%SystemRoot%\\MEMORY.DMP")
    export = hivex_export(tmp_path / "SYSTEM-out", "\\" + CRASH.format(1))
    assert '"NMICrashDump"=dword:00000001' in export and '"CrashDumpEnabled"=dword:00000001' in export


CLEANUP_REMEDY = """id = "delete-cleanupprofiles"
text = "Delete the CleanupProfiles policy value"
documented = false
source = "vm-unresponsive-applying-audit-configuration-policy.md"
action = { type = "delete-values", values = [{ hive = "SOFTWARE", key = "Policies\\\\Microsoft\\\\Windows\\\\System", \
name = "CleanupProfiles" }] }
"""


@pytest.mark.parametrize("output_format", ["vhd-fixed", "vhdx"])
def test_repair_deletes_the_value_into_each_format(tmp_path: Path, output_format: str) -> None:
    disk = gen1_disk(tmp_path, safeboot_bcd(tmp_path),
                     hives={"SYSTEM": read_realdata(SYSTEM), "SOFTWARE": _software(True)})
    catalog = one_article_catalog(tmp_path, "TEST-CLEANUP", CLEANUP_REMEDY)
    result = repair(disk, tmp_path / "out.img", format=output_format, extended=["delete-cleanupprofiles"],
                    catalog=catalog)
    assert result.exit_code == 0 and result.verified, result.message
    (tmp_path / "absent").mkdir()
    absent = gen1_disk(tmp_path / "absent", safeboot_bcd(tmp_path),
                       hives={"SYSTEM": read_realdata(SYSTEM), "SOFTWARE": _software(False)})
    nothing = repair(absent, tmp_path / "none.img", format=output_format, extended=["delete-cleanupprofiles"],
                     catalog=catalog)
    assert nothing.exit_code == 1 and nothing.outcome == "nothing-to-repair"


DUMP_REMEDY = """id = "enable-memory-dump"
text = "Enable a complete memory dump and the NMI crash dump in ControlSet001 and ControlSet002"
documented = true
on_request = true
source = "troubleshoot-common-blue-screen-error.md: collect a memory dump offline (CrashControl)"
action = { type = "set-values", values = [
    { hive = "SYSTEM", key = "ControlSet001\\\\Control\\\\CrashControl", name = "NMICrashDump", value = 1, \
value_type = "REG_DWORD", create = true },
    { hive = "SYSTEM", key = "ControlSet002\\\\Control\\\\CrashControl", name = "NMICrashDump", value = 1, \
value_type = "REG_DWORD", create = true },
] }
"""


def test_the_dump_step_is_written_only_on_request(tmp_path: Path) -> None:
    disk = gen1_disk(tmp_path, safeboot_bcd(tmp_path))
    catalog = one_article_catalog(tmp_path, "TEST-DUMP", DUMP_REMEDY)
    assert catalog[0].remedy[0].extended and catalog[0].remedy[0].documented
    unasked = repair(disk, tmp_path / "none.raw", catalog=catalog)
    assert unasked.exit_code == 1 and "--enable-memory-dump" in unasked.message
    step_json = unasked.to_json()["steps"][0]
    assert step_json["flag"] == "--enable-memory-dump" and "label" not in step_json
    result = repair(disk, tmp_path / "out.raw", extended=["enable-memory-dump"], catalog=catalog)
    assert result.exit_code == 0 and result.verified, result.message
    after = _read(tmp_path / "out.raw", "SYSTEM", tmp_path)
    assert regf.RegistryHive(io.BytesIO(after)).open(CRASH.format(1)).value("NMICrashDump").value == 1
