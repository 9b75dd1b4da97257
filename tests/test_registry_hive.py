"""open_hive and the Hive adapter on real hives: lookups, recovery state, corrupt input.

Needs VHDFIX_REALDATA (the shared realdata folder); skipped without it. Files are read in place.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import struct
from functools import cache
from pathlib import Path

import pytest
from dissect.regf import regf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import read_realdata
from vhdfix.errors import HiveCorrupt
from vhdfix.registry.base_block import checksum, read_base_block
from vhdfix.registry.cells import Cells
from vhdfix.registry.hive import Hive, RegistryKey, open_hive
from vhdfix.registry.key_paths import KeyPaths
from vhdfix.registry.values import RegistryValue

pytestmark = pytest.mark.realdata

YARP = "msuhanov+yarp/hives_for_tests"
REGIPY = "mkorman90+regipy/regipy_tests/data"
DISSECT_SYSTEM = "fox-it+dissect.regf/tests/_data/SYSTEM.gz"
COMPUTER_NAME_KEY = "CurrentControlSet\\Control\\ComputerName\\ComputerName"
Contents = dict[str, tuple[RegistryKey | None, list[RegistryValue] | None]]


@cache
def hive(relative: str, *log_names: str) -> Hive:
    logs = [(Path(name).name, read_realdata(name)) for name in log_names]
    return open_hive(Path(relative).name, read_realdata(relative), logs)


def system_b() -> Hive:
    return hive(f"{REGIPY}/SYSTEM_B.xz", f"{REGIPY}/SYSTEM_B.LOG1.xz", f"{REGIPY}/SYSTEM_B.LOG2.xz")


def walk(opened: Hive, path: str = "", depth: int = 0) -> Contents:
    """Read every key and value below ``path``: key path -> (key, values)."""
    assert depth < 64
    found = {path: (opened.key(path), opened.values(path))}
    for name in opened.subkeys(path) or []:
        found.update(walk(opened, f"{path}\\{name}" if path else name, depth + 1))
    return found


# --- lookups on real SYSTEM hives -----------------------------------------------------------------


@pytest.mark.parametrize(("relative", "state", "computer_name"), [
    (DISSECT_SYSTEM, "clean", "DESKTOP-M3OSHQU"),
    (f"{REGIPY}/SYSTEM.xz", "clean", "WKS-WIN732BITA"),
    (f"{REGIPY}/SYSTEM_2.xz", "dirty-no-log", "SENSEI"),
    (f"{REGIPY}/SYSTEM_WIN_10_1709.xz", "dirty-no-log", "DESKTOP-2KGM189"),
])
def test_computer_name_through_current_control_set(relative: str, state: str, computer_name: str) -> None:
    opened = hive(relative)
    assert opened.state == state
    assert opened.current_control_set == "ControlSet001"
    assert opened.value("Select", "Current").value == 1
    value = opened.value(COMPUTER_NAME_KEY, "ComputerName")
    assert value.value == computer_name
    assert value.type == "REG_SZ"
    assert value.data == (computer_name + "\0").encode("utf-16-le")
    assert opened.value("ControlSet001\\Control\\ComputerName\\ComputerName", "ComputerName") == value


def test_dirty_hive_without_logs_is_readable_with_a_warning() -> None:
    opened = hive(f"{REGIPY}/SYSTEM_WIN_10_1709.xz")
    assert opened.state == "dirty-no-log"
    assert opened.entries_applied == 0
    assert len(opened.warnings) == 1
    assert "dirty" in opened.warnings[0]
    assert opened.data == read_realdata(f"{REGIPY}/SYSTEM_WIN_10_1709.xz")


def test_recovered_system_b() -> None:
    opened = system_b()
    assert opened.state == "recovered"
    assert opened.entries_applied == 24
    assert opened.max_sequence == 2130
    assert opened.warnings == ()
    assert opened.value(COMPUTER_NAME_KEY, "ComputerName").value == "DESKTOP-PM6C56D"
    assert [report.entries_applied for report in opened.logs] == [4, 20]
    assert opened.value("CurrentControlSet\\Services\\Tcpip\\Parameters", "hostname").value == "DESKTOP-PM6C56D"


@pytest.mark.parametrize("relative", [DISSECT_SYSTEM, f"{REGIPY}/SYSTEM.xz"])
def test_setup_values(relative: str) -> None:
    opened = hive(relative)
    values = {value.name: value for value in opened.values("Setup")}
    for name in ("SystemSetupInProgress", "SetupType", "OOBEInProgress", "SetupPhase", "RestartSetup"):
        assert values[name].type == "REG_DWORD"
        assert values[name].value == 0
    assert values["CmdLine"].value == ""
    assert values["CmdLine"].data == b"\0\0"
    assert values["WorkingDirectory"].value == "C:\\Windows\\Panther"
    clone_tag = values["CloneTag"]
    assert clone_tag.type == "REG_MULTI_SZ"
    assert len(clone_tag.value) == 2 and clone_tag.value[1] == ""


def test_names_are_case_insensitive() -> None:
    opened = hive(DISSECT_SYSTEM)
    assert opened.value("SELECT", "current").name == "Current"
    assert opened.value("\\select\\", "CURRENT").value == 1
    assert opened.value("setup", "systemsetupinprogress").name == "SystemSetupInProgress"
    key = opened.key("currentcontrolset\\CONTROL\\computername\\COMPUTERNAME")
    assert key.path == "ControlSet001\\Control\\ComputerName\\ComputerName"
    assert key.name == "ComputerName"


def test_current_control_set_follows_select_current() -> None:
    data = bytearray(read_realdata(f"{REGIPY}/SYSTEM.xz"))
    # The Select key's "Current" value: an inline DWORD 1 (vk, name length 7, size 0x80000004, type 4).
    pattern = re.compile(rb"vk\x07\x00\x04\x00\x00\x80\x01\x00\x00\x00\x04\x00\x00\x00..\x00\x00Current", re.DOTALL)
    matches = [match.start() for match in pattern.finditer(data)]
    assert matches
    for start in matches:
        struct.pack_into("<I", data, start + 8, 2)
    opened = open_hive("SYSTEM", bytes(data))
    assert opened.value("Select", "Current").value == 2
    assert opened.current_control_set == "ControlSet002"
    assert opened.key("CurrentControlSet").path == "ControlSet002"
    assert opened.value(COMPUTER_NAME_KEY, "ComputerName").value == "WIN-V5T3CSP8U4H"


def test_key_api() -> None:
    opened = hive(DISSECT_SYSTEM)
    key = opened.key("Select")
    assert key.subkey_count == 0 and key.value_count == 4
    assert key.last_written == opened.last_written("select")
    assert key.last_written.year >= 2015
    assert opened.subkeys("Select") == []
    assert "ControlSet001" in opened.subkeys("")
    assert [value.name for value in opened.values("Select")] == ["Current", "Default", "Failed", "LastKnownGood"]
    default = opened.value("ControlSet001\\Control\\ComputerName\\ComputerName", "")
    assert default.value == "mnmsrvc"
    assert opened.key("").path == ""


def test_missing_keys_and_values_are_none() -> None:
    opened = hive(DISSECT_SYSTEM)
    assert opened.key("NoSuchKey") is None
    assert opened.key("Select\\NoSuchKey") is None
    assert opened.value("Select", "NoSuchValue") is None
    assert opened.value("NoSuchKey", "Current") is None
    assert opened.subkeys("NoSuchKey") is None
    assert opened.values("NoSuchKey") is None
    assert opened.last_written("NoSuchKey") is None


def test_no_current_control_set_outside_system_hives() -> None:
    opened = hive(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10")
    assert opened.current_control_set is None
    assert opened.key("CurrentControlSet\\Control") is None


# --- recovered yarp hives: the documented keys and values ---------------------------------------


def test_old_dirty_hive_keys() -> None:
    before = hive(f"{YARP}/OldDirtyHive/OldDirtyHive")
    assert before.state == "dirty-no-log"
    assert before.key("key_with_many_subkeys\\1") is not None
    assert before.key("key_with_many_subkeys\\5000\\find_me_in_log") is None
    assert before.value("key_with_many_subkeys\\4500", "V") is None

    after = hive(f"{YARP}/OldDirtyHive/OldDirtyHive", f"{YARP}/OldDirtyHive/OldDirtyHive.LOG1",
                 f"{YARP}/OldDirtyHive/OldDirtyHive.LOG2")
    assert after.state == "recovered"
    assert after.key("key_with_many_subkeys\\1") is None
    assert after.key("key_with_many_subkeys\\5000\\find_me_in_log") is not None
    value = after.value("key_with_many_subkeys\\4500", "v")
    assert value.type == "REG_MULTI_SZ"
    assert value.value == ["a", "bb", "ccc", ""]

    windows = hive(f"{YARP}/OldDirtyHive/RecoveredHive_Windows7")
    assert windows.value("key_with_many_subkeys\\4500", "V") == value
    assert windows.last_written("key_with_many_subkeys\\5000\\find_me_in_log") == \
        after.last_written("key_with_many_subkeys\\5000\\find_me_in_log")


def test_new_dirty_hive_keys() -> None:
    after = hive(f"{YARP}/NewDirtyHive1/NewDirtyHive", f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG1",
                 f"{YARP}/NewDirtyHive1/NewDirtyHive.LOG2")
    assert after.key("Key1") is None
    for path in ("Key3", "Key3\\Key3_1", "Key3\\Key3_2", "key3\\key3_3"):
        assert after.key(path) is not None
    default = after.value("Key3", "")
    assert default.value == "1" * 1440
    assert len(default.data) == 1441 * 2


def test_big_data_value() -> None:
    opened = hive(f"{YARP}/BigDataHive")
    assert opened.value("key_with_bigdata", "").data == b"1" * 16345
    assert opened.value("key_with_bigdata", "V").data == b"2" * 81725


# --- root cell check, corrupt input ----------------------------------------------------------------


def test_the_root_key_is_the_base_blocks_root_cell() -> None:
    """regf spec, 'Base block' @36: the root cell offset, not the first cell, names the root key."""
    data = bytearray(read_realdata(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10"))
    original = open_hive("H", bytes(data))
    first_subkey = original.subkeys("")[0]
    paths = KeyPaths(Cells.strict("H", data), read_base_block(data).root_cell_offset)
    struct.pack_into("<I", data, 36, paths.find_key(first_subkey)[0])
    struct.pack_into("<I", data, 508, checksum(data))
    moved = open_hive("H", bytes(data))
    assert moved.key("").name == first_subkey
    assert moved.subkeys("") == original.subkeys(first_subkey)


def test_root_cell_that_is_not_a_key_node_is_refused() -> None:
    data = bytearray(read_realdata(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10"))
    struct.pack_into("<I", data, 36, 8)  # inside the first cell
    struct.pack_into("<I", data, 508, checksum(data))
    with pytest.raises(HiveCorrupt, match="root cell"):
        open_hive("H", bytes(data))


def test_undecodable_file_name_is_not_fatal() -> None:
    data = bytearray(read_realdata(f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10"))
    data[48:50] = b"\x00\xd8"  # a lone UTF-16 surrogate in the base block's debugging-only File name
    struct.pack_into("<I", data, 508, checksum(data))
    opened = open_hive("H", bytes(data))
    assert opened.data == bytes(data)
    assert opened.key("Key3\\Key3_1") is not None


@pytest.mark.parametrize("relative", [
    f"{YARP}/BadListHive",
    f"{YARP}/BadSubkeyHive",
    f"{YARP}/InvalidParentHive",
    f"{YARP}/TruncatedHive",
    f"{YARP}/TruncatedDirtyHive",
    f"{YARP}/TruncatedHiveBin",
    f"{REGIPY}/corrupted_system_hive.xz",
])
def test_corrupt_hives_raise_hive_corrupt_only(relative: str) -> None:
    with pytest.raises(HiveCorrupt) as raised:
        walk(open_hive("H", read_realdata(relative)))
    assert raised.value.code == "hive-corrupt"
    assert raised.value.message.startswith("H: ")


@pytest.mark.parametrize("data", [
    b"",
    b"regf",
    bytes(4096),
    random.Random(7).randbytes(65536),
    b"regf" + random.Random(8).randbytes(65536),
])
def test_garbage_is_hive_corrupt(data: bytes) -> None:
    with pytest.raises(HiveCorrupt):
        walk(open_hive("H", data))


FUZZED_HIVE = f"{YARP}/NewDirtyHive1/RecoveredHive_Windows10"


@cache
def free_cell_bodies() -> frozenset[int]:
    """File offsets of FUZZED_HIVE that no structure uses: free cells after their size field (regf spec,
    'Cell': a positive size marks a free cell). Walked here, independently of the reader under test."""
    data = read_realdata(FUZZED_HIVE)
    end = 4096 + struct.unpack_from("<I", data, 40)[0]  # the base block's hive bins data size
    unused: set[int] = set()
    hbin = 4096
    while hbin < end:
        assert data[hbin:hbin + 4] == b"hbin"
        cell = hbin + 32
        hbin += struct.unpack_from("<I", data, hbin + 8)[0]
        while cell < hbin:
            size = struct.unpack_from("<i", data, cell)[0]
            if size > 0:
                unused.update(range(cell + 4, cell + size))
            cell += abs(size)
    return frozenset(unused)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.integers(0, 511), st.integers(4096, 4096 + 20480 - 1)), st.integers(0, 255)),
                min_size=1, max_size=6))
@example([])
@example([(11112 + 100, 0x5A)])  # inside FUZZED_HIVE's largest free cell, at 11112
@example([(6228, 0)])  # a subkey's name length zeroed: an empty name would alias its parent's path
def test_damaged_hives_give_hive_corrupt_and_free_space_changes_nothing(edits: list[tuple[int, int]]) -> None:
    """A damaged hive opens or is refused with HiveCorrupt, never another exception. A hive changed only inside
    free cells (or not at all) opens and reads exactly as the original."""
    original = read_realdata(FUZZED_HIVE)
    data = bytearray(original)
    for position, byte in edits:
        data[position] = byte
    if {position for position, _ in edits if data[position] != original[position]} <= free_cell_bodies():
        assert walk(open_hive("H", bytes(data))) == walk(hive(FUZZED_HIVE))
        return
    with contextlib.suppress(HiveCorrupt):
        walk(open_hive("H", bytes(data)))


# --- second reader: dissect.regf on the same (recovered) bytes --------------------------------------


def _dissect_values(key: regf.KeyNode) -> dict[str, tuple[int, bytes]]:
    return {("" if value.name == "(Default)" else value.name): (value.type, value.data) for value in key.values()}


@pytest.mark.parametrize(("opened", "paths"), [
    (lambda: system_b(), ["Select", "Setup", "ControlSet001\\Control\\ComputerName\\ComputerName",
                          "ControlSet001\\Control\\Session Manager", "ControlSet001\\Services\\Tcpip\\Parameters",
                          "ControlSet001\\Control\\Windows"]),
    (lambda: hive(DISSECT_SYSTEM), ["Select", "Setup", "ControlSet001\\Control", "ControlSet001\\Services\\Tcpip"]),
    (lambda: hive(f"{YARP}/OldDirtyHive/OldDirtyHive", f"{YARP}/OldDirtyHive/OldDirtyHive.LOG1"),
     ["key_with_many_subkeys\\4500", "key_with_many_subkeys\\5000"]),
])
def test_dissect_regf_reads_the_same(opened, paths: list[str]) -> None:
    ours = opened()
    theirs = regf.RegistryHive(io.BytesIO(ours.data))  # its "dirty" flag is inverted: never used here
    for path in paths:
        key = theirs.open(path)
        assert sorted(ours.subkeys(path)) == sorted(subkey.name for subkey in key.subkeys())
        assert {value.name: (value.type_code, value.data) for value in ours.values(path)} == _dissect_values(key)
