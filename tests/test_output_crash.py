"""``kill -9`` in the middle of a repair's copy: nothing is left in OUT's folder, and where the copy had to be
written under a temporary name, the next repair to OUT removes it, but never one whose writer still runs.

The repair runs in a child process that pauses inside its copy, after writing data (tests.support.paused_repair),
so the kill lands at a known point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.support.paused_repair import start_paused
from tests.support.samples import PA
from vhdfix import repair
from vhdfix.copy import output
from vhdfix.copy.temporaries import Owner, owner_of

SOURCE = FIXTURES / f"{PA}.vhd"

pytestmark = pytest.mark.skipif(not output.O_TMPFILE, reason="unnamed files (O_TMPFILE) are Linux-only")


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def open_files_in(pid: int, folder: Path) -> list[str]:
    """What the open descriptors of process ``pid`` that lie in ``folder`` point at."""
    fds = Path(f"/proc/{pid}/fd")
    targets = [os.readlink(fds / fd) for fd in os.listdir(fds)]
    return [target for target in targets if target.startswith(f"{folder}/")]


def kill_9(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)  # also reaps it: a zombie would still count as running
    assert child.returncode == -signal.SIGKILL


def test_kill_9_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "out.vhdx"
    child = start_paused("api", SOURCE, out, "vhdx")
    writing = open_files_in(child.pid, tmp_path)
    assert len(writing) == 1 and writing[0].endswith(" (deleted)"), writing  # the copy, without a name
    assert names(tmp_path) == []
    kill_9(child)
    assert names(tmp_path) == []
    again = repair(SOURCE, out, format="vhdx")
    assert again.exit_code == 0 and again.copy is not None and again.copy.stale_removed == ()
    assert names(tmp_path) == ["out.vhdx"]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_repair_not_a_running_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "O_TMPFILE", 0)
    out = tmp_path / "out.vhdx"
    child = start_paused("api", SOURCE, out, "vhdx", named=True)
    [temporary] = names(tmp_path)
    owner = owner_of(temporary, out)
    assert owner is not None and owner.pid == child.pid and owner.space == Owner.current().space

    beside_a_running_copy = repair(SOURCE, out, format="vhdx")
    assert beside_a_running_copy.exit_code == 0, beside_a_running_copy.message
    assert beside_a_running_copy.copy is not None and beside_a_running_copy.copy.stale_removed == ()
    assert names(tmp_path) == sorted([temporary, "out.vhdx"])

    kill_9(child)
    assert names(tmp_path) == sorted([temporary, "out.vhdx"])  # what a kill -9 leaves without unnamed files
    after_the_kill = repair(SOURCE, out, format="vhdx", force=True)
    assert after_the_kill.exit_code == 0, after_the_kill.message
    assert after_the_kill.copy is not None and after_the_kill.copy.stale_removed == (str(tmp_path / temporary),)
    assert after_the_kill.to_json()["output"]["stale_temporaries_removed"] == [str(tmp_path / temporary)]
    assert names(tmp_path) == ["out.vhdx"]


def test_the_child_finishes_when_resumed(tmp_path: Path) -> None:
    """The pause is only a pause: resumed, the child's repair completes (so the kills above hit a live copy)."""
    child = start_paused("api", SOURCE, tmp_path / "out.vhdx", "vhdx")
    stdout, stderr = child.communicate("\n", timeout=120)
    assert child.returncode == 0, stdout + stderr
    assert json.loads(stdout)["outcome"] == "repaired"
    assert names(tmp_path) == ["out.vhdx"]
