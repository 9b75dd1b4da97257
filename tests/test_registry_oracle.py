"""Oracle: our keys and values against ``hivexregedit --export`` (Debian libwin-hivex-perl) on the same bytes.

hivex reads the image it is given and ignores logs, so recovered images are
written to a temporary file first: this checks reading, the recovery has its
own ground-truth tests. Needs VHDFIX_REALDATA (skipped without it) and
hivexregedit (skipped without it, a failure in CI).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import read_realdata, require_tool
from vhdfix.registry.hive import Hive, open_hive

pytestmark = [pytest.mark.oracle, pytest.mark.realdata]

REGIPY = "mkorman90+regipy/regipy_tests/data"
YARP = "msuhanov+yarp/hives_for_tests"
_VALUE = re.compile(r'^(?:@|"(?P<name>(?:[^"\\]|\\.)*)")='
                    r'(?:dword:(?P<dword>[0-9a-f]{8})|hex\((?P<type>[0-9a-f]+)\):(?P<hex>[0-9a-f,]*))$')


def hivex_export(tool: str, image: Path, key: str) -> dict[str, dict[str, tuple[int, bytes]]]:
    """Parse ``hivexregedit --export`` of ``key`` (recursive): key path -> value name -> (type, data)."""
    output = subprocess.run([tool, "--export", str(image), "\\" + key], check=True,
                            capture_output=True, text=True, encoding="utf-8", timeout=120).stdout
    keys: dict[str, dict[str, tuple[int, bytes]]] = {}
    current: dict[str, tuple[int, bytes]] = {}
    for line in output.replace("\\\n", "").splitlines():
        if line.startswith("[\\") and line.endswith("]"):
            current = keys.setdefault(line[2:-1], {})
            continue
        match = _VALUE.match(line)
        if match is None:
            assert line in ("", "Windows Registry Editor Version 5.00"), line
            continue
        name = re.sub(r"\\(.)", r"\1", match["name"]) if match["name"] is not None else ""
        if match["dword"] is not None:
            current[name] = (4, int(match["dword"], 16).to_bytes(4, "little"))
        else:
            current[name] = (int(match["type"], 16), bytes.fromhex(match["hex"].replace(",", "")))
    return keys


def our_export(opened: Hive, key: str) -> dict[str, dict[str, tuple[int, bytes]]]:
    keys: dict[str, dict[str, tuple[int, bytes]]] = {}
    pending = [opened.key(key).path]
    while pending:
        path = pending.pop()
        keys[path] = {value.name: (value.type_code, value.data) for value in opened.values(path)}
        pending += [f"{path}\\{name}" for name in opened.subkeys(path)]
    return keys


@pytest.mark.parametrize(("hive", "logs", "keys"), [
    ("fox-it+dissect.regf/tests/_data/SYSTEM.gz", [],
     ["Select", "Setup", "ControlSet001\\Control\\ComputerName", "ControlSet001\\Control\\Session Manager",
      "ControlSet001\\Services\\Tcpip", "ControlSet001\\Control\\Class"]),
    (f"{REGIPY}/SYSTEM.xz", [], ["Select", "Setup", "ControlSet002\\Control\\ComputerName",
                                 "ControlSet001\\Services\\Tcpip"]),
    (f"{REGIPY}/SYSTEM_B.xz", [f"{REGIPY}/SYSTEM_B.LOG1.xz", f"{REGIPY}/SYSTEM_B.LOG2.xz"],
     ["Select", "Setup", "ControlSet001\\Control\\ComputerName", "ControlSet001\\Services\\Tcpip",
      "ControlSet001\\Control\\Session Manager"]),
    (f"{YARP}/OldDirtyHive/OldDirtyHive", [f"{YARP}/OldDirtyHive/OldDirtyHive.LOG1"], ["key_with_many_subkeys"]),
    (f"{YARP}/BigDataHive", [], ["key_with_bigdata"]),
])
def test_values_match_hivexregedit(tmp_path: Path, hive: str, logs: list[str], keys: list[str]) -> None:
    tool = require_tool("hivexregedit")  # Debian libwin-hivex-perl
    opened = open_hive(Path(hive).name, read_realdata(hive), [(Path(name).name, read_realdata(name)) for name in logs])
    image = tmp_path / "hive"
    image.write_bytes(opened.data)
    for key in keys:
        theirs = hivex_export(tool, image, key)
        ours = our_export(opened, key)
        assert sorted(ours) == sorted(theirs)
        for path, values in theirs.items():
            assert ours[path] == values, path
