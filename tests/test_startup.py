"""``vhdfix inspect`` imports what inspecting needs and nothing else (a fast start for one-shot jobs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, unpack_to

LOADED_AT_EXIT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["vhdfix", *sys.argv[1:]]
from vhdfix.cli import main
main()
"""
# azure: the SDK of the optional vhdfix[azure] extra is imported only when a URL is opened. dissect.eventlog
# (0.1 s of cstruct compiling) only when the disk has an event log to read; these samples have none.
NEVER_FOR_INSPECT = ("vhdfix.copy", "vhdfix.writer", "vhdfix.verify", "vhdfix.commands.repair_command",
                     "vhdfix.commands.articles_command", "regipy", "construct", "azure", "vhdfix.remote.blob_image",
                     "vhdfix.remote.credentials", "dissect.eventlog")


def loaded_modules(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", LOADED_AT_EXIT, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def imported(modules: set[str], package: str) -> list[str]:
    return sorted(name for name in modules if name == package or name.startswith(package + "."))


@pytest.mark.parametrize(("disk", "other_container"), [("vhd", "vhdfix.disk.vhdx"), ("vhdx", "vhdfix.disk.vhd")])
def test_inspect_loads_neither_the_repair_side_nor_the_other_container(tmp_path: Path, disk: str,
                                                                       other_container: str) -> None:
    path = FIXTURES / "provisioning-agent.vhd" if disk == "vhd" else \
        unpack_to(FIXTURES / "matrix" / "provisioning-agent-gpt-vhdx-dynamic.vhdx.xz", tmp_path)
    modules = loaded_modules("inspect", "--json", str(path))
    assert f"vhdfix.disk.{disk}" in modules and "dissect.ntfs" in modules  # it did inspect
    for package in (*NEVER_FOR_INSPECT, other_container):
        assert imported(modules, package) == [], package


def test_repair_loads_its_own_command() -> None:
    modules = loaded_modules("repair", "--help")
    assert "vhdfix.commands.repair_command" in modules and "vhdfix.commands.inspect_command" not in modules
