"""Values deleted, values created in free cells, keys deleted: on real hives, against hivex making the same edit.

Each edit is made twice on a scratch copy of a real hive: by vhdfix's
:class:`HiveEditor` (then committed), and by ``hivexregedit --merge`` (hivex's
own writer). ``hivexregedit --export`` of both must be the same, key by key
(hivex sorts the values it rewrites, Windows and vhdfix append: values are
compared as a set per key). regipy and dissect.regf must read the result, and
vhdfix's strict cell walk must pass.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dissect.regf import regf

from tests.conftest import read_realdata, require_tool
from tests.support.oracles import hivex_export, run
from vhdfix.diagnosis.actions import ValueName, ValueSetting
from vhdfix.errors import HiveNoFreeSpace, HiveShapeUnsupported
from vhdfix.registry.base_block import read_base_block
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.writer.hive_edit import HiveEditor

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
SYSTEM = "fox-it+dissect.regf/tests/_data/SYSTEM.gz"  # Windows 10, clean, KTM flag set
BCD = "mkorman90+regipy/regipy_tests/data/BCD.xz"
CRASH = "ControlSet00{}\\Control\\CrashControl"


def _keys(export: str) -> dict[str, frozenset[str]]:
    """hivex's export as {key: set of value lines}."""
    keys: dict[str, set[str]] = {}
    current = ""
    for line in export.splitlines():
        if line.startswith("["):
            current = line
            keys[current] = set()
        elif line and current:
            keys[current].add(line)
    return {key: frozenset(lines) for key, lines in keys.items()}


def _hivex_edit(original: bytes, prefix: str, reg: str, folder: Path) -> bytes:
    scratch, script = folder / "hivex-hive", folder / "edit.reg"
    scratch.write_bytes(original)
    script.write_text("Windows Registry Editor Version 5.00\r\n\r\n" + reg.replace("\n", "\r\n"), encoding="utf-8")
    result = run(require_tool("hivexregedit"), "--merge", "--prefix", prefix, scratch, script)
    assert result.returncode == 0, result.stderr
    return scratch.read_bytes()


def _check_readers(image: bytes, folder: Path, key: str) -> KeyPaths:
    """vhdfix's strict full walk, and regipy's reading of ``key`` (a full regipy walk of SYSTEM takes minutes)."""
    base = read_base_block(image)
    assert base.valid and not base.is_dirty
    paths = KeyPaths.strict("edited", image)
    assert sum(1 for _ in paths.walk()) > 0
    from regipy.registry import RegistryHive

    (folder / "regipy-hive").write_bytes(image)
    regipy_key = RegistryHive(str(folder / "regipy-hive")).get_key("\\" + key)
    found = paths.find_key(key)
    assert found is not None
    assert sorted(value.name for value in regipy_key.iter_values()) == \
        sorted(value.name for value in paths.values(found[0], key))
    return paths


def _same_as_hivex(ours: bytes, theirs: bytes, folder: Path) -> None:
    (folder / "ours").write_bytes(ours)
    (folder / "theirs").write_bytes(theirs)
    assert _keys(hivex_export(folder / "ours")) == _keys(hivex_export(folder / "theirs"))


def _edited(name: str, data: bytes, edit: object) -> tuple[bytes, HiveEditor]:
    editor = HiveEditor(name, data, WHEN)
    edit(editor)  # type: ignore[operator]
    editor.commit(0, WHEN, 0)
    return bytes(editor.image), editor


def test_delete_a_value_and_create_values_in_free_cells_on_a_real_windows_10_system_hive(tmp_path: Path) -> None:
    original = read_realdata(SYSTEM)
    assert read_base_block(original).flags & 1

    def edit(editor: HiveEditor) -> None:
        editor.delete_value(ValueName("SYSTEM", CRASH.format(1), "AutoReboot"), 0)
        for number in (1,):
            key = CRASH.format(number)
            editor.set_value(ValueSetting("SYSTEM", key, "CrashDumpEnabled", 1, "REG_DWORD"), 0)
            editor.set_value(ValueSetting("SYSTEM", key, "NMICrashDump", 1, "REG_DWORD", create=True), 0)
            editor.set_value(ValueSetting("SYSTEM", key, "DumpFile", "%SystemRoot%\\MEMORY.DMP",
                                          "REG_EXPAND_SZ"), 0)
            editor.set_value(ValueSetting("SYSTEM", key, "VhdfixNote", "a new string", "REG_SZ", create=True), 0)

    ours, editor = _edited("SYSTEM", original, edit)
    assert len(ours) == len(original)
    # That hive has ControlSet001 only (as many Windows 10 hives): ControlSet002 is skipped with a note.
    assert editor.set_value(ValueSetting("SYSTEM", CRASH.format(2), "NMICrashDump", 1, "REG_DWORD", create=True),
                            0) == "SYSTEM\\ControlSet002\\Control\\CrashControl does not exist (vhdfix does not " \
                                  "create keys); skipped"
    reg = "".join(f"[HKEY_LOCAL_MACHINE\\SYSTEM\\{CRASH.format(n)}]\n" + ('"AutoReboot"=-\n' if n == 1 else "") +
                  '"CrashDumpEnabled"=dword:00000001\n"NMICrashDump"=dword:00000001\n'
                  '"VhdfixNote"="a new string"\n\n' for n in (1,))
    theirs = _hivex_edit(original, "HKEY_LOCAL_MACHINE\\SYSTEM", reg, tmp_path)
    _same_as_hivex(ours, theirs, tmp_path)
    paths = _check_readers(ours, tmp_path, CRASH.format(1))
    dissected = regf.RegistryHive(io.BytesIO(ours))
    for number in (1,):
        key = dissected.open(CRASH.format(number))
        assert key.value("NMICrashDump").value == 1 and key.value("CrashDumpEnabled").value == 1
        assert key.value("VhdfixNote").value == "a new string"
        found = paths.find_key(CRASH.format(number))
        node = paths.cells.key_node(found[0], "k")
        assert node.largest_value_name_length >= 2 * len("CrashDumpEnabled")
    assert "AutoReboot" not in {value.name for value in dissected.open(CRASH.format(1)).values()}


def test_a_deleted_value_frees_its_cells_and_merges_free_neighbours(tmp_path: Path) -> None:
    original = read_realdata(SYSTEM)
    paths = KeyPaths.strict("SYSTEM", original)
    key = paths.find_key(CRASH.format(1))
    dump_file = paths.find_value(key[0], "DumpFile", "k")
    ours, _ = _edited("SYSTEM", original, lambda e: e.delete_value(ValueName("SYSTEM", CRASH.format(1), "DumpFile"),
                                                                   0))
    after = KeyPaths.strict("edited", ours).cells  # the strict walk reads every cell size
    assert not after.is_allocated(dump_file.offset) and not after.is_allocated(dump_file.data_offset)
    theirs = _hivex_edit(original, "HKEY_LOCAL_MACHINE\\SYSTEM",
                         f'[HKEY_LOCAL_MACHINE\\SYSTEM\\{CRASH.format(1)}]\n"DumpFile"=-\n\n', tmp_path)
    _same_as_hivex(ours, theirs, tmp_path)
    _check_readers(ours, tmp_path, CRASH.format(1))


def test_deleting_the_last_value_frees_the_list(tmp_path: Path) -> None:
    original = read_realdata(SYSTEM)
    paths = KeyPaths.strict("SYSTEM", original)
    key = "Select"
    names = [value.name for value in paths.values(paths.find_key(key)[0], "k")]

    def edit(editor: HiveEditor) -> None:
        for name in names:
            editor.delete_value(ValueName("SYSTEM", key, name), 0)

    ours, _ = _edited("SYSTEM", original, edit)
    after = KeyPaths.strict("edited", ours)
    node = after.cells.key_node(after.find_key(key)[0], "k")
    assert (node.number_of_key_values, node.key_values_list_offset, node.largest_value_name_length) == \
        (0, 0xFFFFFFFF, 0)
    theirs = _hivex_edit(original, "HKEY_LOCAL_MACHINE\\SYSTEM",
                         "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n" + "".join(f'"{n}"=-\n' for n in names) + "\n",
                         tmp_path)
    _same_as_hivex(ours, theirs, tmp_path)


def test_deleting_a_missing_value_is_a_note() -> None:
    editor = HiveEditor("SYSTEM", read_realdata(SYSTEM), WHEN)
    assert editor.delete_value(ValueName("SYSTEM", "Select", "Nope"), 0) == "SYSTEM\\Select\\Nope does not exist; " \
                                                                            "nothing to delete"
    assert editor.delete_value(ValueName("SYSTEM", "No\\Key", "x"), 0) == "SYSTEM\\No\\Key does not exist; " \
                                                                          "nothing to delete"
    assert editor.writes == []


def test_a_value_larger_than_every_free_cell_is_refused() -> None:
    editor = HiveEditor("BCD", read_realdata(BCD), WHEN)
    big = ValueSetting("BCD", "Objects", "Big", "x" * 8000, "REG_SZ", create=True)
    with pytest.raises(HiveNoFreeSpace) as refused:
        editor.set_value(big, 0)
    assert refused.value.code == "hive-no-free-space"


def _bcd_element_key() -> tuple[bytes, str]:
    original = read_realdata(BCD)
    paths = KeyPaths.strict("BCD", original)
    for path, values in paths.walk():
        parts = path.split("\\")
        if len(parts) == 4 and parts[2] == "Elements" and values:
            return original, path
    raise AssertionError("no element key")


def test_delete_a_bcd_element_key_like_hivex(tmp_path: Path) -> None:
    original, path = _bcd_element_key()
    before = KeyPaths.strict("BCD", original)
    node = before.cells.key_node(before.find_key(path)[0], "k")
    sk = node.key_security_offset
    references = struct.unpack_from("<I", original, 4096 + sk + 4 + 12)[0]
    ours, _ = _edited("BCD", original, lambda e: e.delete_key(path, path, 0))
    parent = path.rsplit("\\", 1)[0]
    paths = _check_readers(ours, tmp_path, parent)
    assert paths.find_key(path) is None
    assert struct.unpack_from("<I", ours, 4096 + sk + 4 + 12)[0] == references - 1
    theirs = _hivex_edit(original, "HKEY_LOCAL_MACHINE\\BCD", f"[-HKEY_LOCAL_MACHINE\\BCD\\{path}]\n\n", tmp_path)
    _same_as_hivex(ours, theirs, tmp_path)
    dissected = regf.RegistryHive(io.BytesIO(ours))
    assert path.rsplit("\\", 1)[1] not in {key.name for key in dissected.open(parent).subkeys()}


def test_a_key_with_subkeys_is_not_deleted() -> None:
    editor = HiveEditor("BCD", read_realdata(BCD), WHEN)
    with pytest.raises(HiveShapeUnsupported):
        editor.delete_key("Objects", "Objects", 0)
