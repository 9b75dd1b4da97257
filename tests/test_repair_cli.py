"""``vhdfix repair`` on the command line, in a separate process: flags, the text and JSON reports, progress,
exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.paused_repair import start_paused
from tests.support.samples import PA, sample
from vhdfix.copy.temporaries import TEMP_MARK
from vhdfix.repair import repair

FIXTURE = REPO / "fixtures" / f"{PA}.vhd"
EXTENDED_FLAGS = ("--remove-error-handler-hooks", "--remove-setup-complete-hooks", "--reset-setup-state")


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "vhdfix", "repair", *map(str, args)]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=REPO, capture_output=True, text=True, timeout=120)


def test_help_names_every_extended_step_as_not_documented() -> None:
    done = run("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for flag in EXTENDED_FLAGS:
        assert f"{flag} NOT documented by Microsoft." in text, flag
    for code in ("0 repaired and verified", "1 nothing to repair", "2 usage error", "3 the input", "4 refused"):
        assert code in text


def test_text_report(tmp_path: Path) -> None:
    done = run(FIXTURE, "--output", tmp_path / "out.vhd", "--remove-error-handler-hooks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # stderr is not a terminal: no progress bar
    out = done.stdout
    assert "[write]  remove-unattend-wsf" in out
    assert "[write]  remove-error-handler-hooks  NOT documented by Microsoft:" in out
    assert "Manual steps (not disk changes: do them yourself)" in out
    assert "- In the VM's settings, unmount the provisioning ISO" in out
    assert "--remove-setup-complete-hooks" in out and "--reset-setup-state" in out
    assert "ok    untouched-files" in out and "repaired into" in out and "(exit 0)" in out



def test_json_is_the_python_api_result(tmp_path: Path) -> None:
    done = run(FIXTURE, "-o", tmp_path / "cli.vhdx", "--format", "vhdx", "--json")
    assert done.returncode == 0, done.stderr
    from_cli = json.loads(done.stdout)
    from_api = repair(FIXTURE, tmp_path / "api.vhdx", format="vhdx").to_json()
    for payload in (from_cli, from_api):
        for timed in (payload, payload["output"], *payload["phases"].values()):
            timed.pop("seconds")
        payload["output"].pop("copy_seconds")
        payload["output"].pop("path")
        payload["message"] = payload["message"].replace("cli.vhdx", "X").replace("api.vhdx", "X")
    assert from_cli == from_api
    assert from_cli["schema"] == "vhdfix.repair/1"


def test_json_progress_lines(tmp_path: Path) -> None:
    done = run(FIXTURE, "-o", tmp_path / "out.raw", "--format", "raw", "--progress=json", "--quiet")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines and all(line["event"] == "progress" and line["phase"] == "copy" for line in lines)
    last = lines[-1]
    assert last["finished"] is True and last["done"] == last["total"] > 0 and last["eta"] == 0


def run_on_a_terminal(*args: str | Path) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; (exit code, what reached the terminal)."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(command(*args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    received = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    return child.wait(timeout=120), received.decode(errors="replace")


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    code, shown = run_on_a_terminal(FIXTURE, "-o", tmp_path / "bar.vhd")
    assert code == 0
    assert "copying [" in shown and "ETA" in shown and "100.0%" in shown and "/s" in shown
    code, shown = run_on_a_terminal(FIXTURE, "-o", tmp_path / "quiet.vhd", "--quiet")
    assert code == 0 and shown == ""


def test_exit_codes(tmp_path: Path) -> None:
    missing_output = run(FIXTURE)
    assert missing_output.returncode == 2 and "--output" in missing_output.stderr
    (tmp_path / "taken.vhd").write_bytes(b"x")
    taken = run(FIXTURE, "-o", tmp_path / "taken.vhd", "--json")
    assert taken.returncode == 2 and json.loads(taken.stdout)["error"]["code"] == "output-exists"
    assert "output-exists" in taken.stderr
    unreadable = run(tmp_path / "absent.vhd", "-o", tmp_path / "out.vhd", "--json")
    assert unreadable.returncode == 3 and json.loads(unreadable.stdout)["error"]["code"] == "input-not-found"
    nothing = run(sample("could-not-finish-configuring-mbr-vhd-dynamic", tmp_path), "-o",
                  tmp_path / "out.vhd")
    assert nothing.returncode == 1 and "Microsoft documents no disk fix" in nothing.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["could-not-finish-configuring-mbr-vhd-dynamic.vhd",
                                                                 "taken.vhd"]


@pytest.mark.parametrize("named", [False, True], ids=["unnamed-file", "temporary-name"])
@pytest.mark.parametrize(("stop", "code", "said"), [(signal.SIGINT, 130, "interrupted"),
                                                    (signal.SIGTERM, 143, "terminated by SIGTERM")])
def test_ctrl_c_or_sigterm_leaves_nothing_behind(tmp_path: Path, stop: signal.Signals, code: int, said: str,
                                                 named: bool) -> None:
    """The signal reaches ``vhdfix.cli.main`` while its copy is paused, after writing data (not by timing). With
    ``named``, as on a system without unnamed files, the copy has a temporary name that must go too."""
    child = start_paused("cli", "repair", FIXTURE, "-o", tmp_path / "out.vhdx", "--format", "vhdx",
                         "--progress", "json", named=named)
    writing = [path.name for path in tmp_path.iterdir()]
    assert len(writing) == named and all(TEMP_MARK in name for name in writing), writing
    child.send_signal(stop)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == code and said in stderr, stdout + stderr
    assert list(tmp_path.iterdir()) == []
