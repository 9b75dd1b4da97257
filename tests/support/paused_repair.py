"""A ``vhdfix repair`` in a child process that pauses inside its copy, at a known point, for a test to look at
OUT's folder and then signal, kill or resume it. Nothing is timed, so nothing races.

The child pauses at the first progress report after the copy wrote data: it prints ``paused`` on stdout and waits
for a line on stdin (or its end). :func:`start_paused` returns once it has paused.

Run as ``python -m tests.support.paused_repair {api|cli} [--named] ARGS...``:

* ``api``: ``vhdfix.repair(DISK, OUT, format=FORMAT, force=True, progress=...)``, with ARGS DISK OUT FORMAT; prints
  the result's JSON. A KeyboardInterrupt ends it as Python ends on one (killed by SIGINT, a traceback on stderr);
* ``cli``: ``vhdfix.cli.main`` with ARGS as its command line, which must include ``--progress json`` (the pause
  takes the place of the JSON progress lines);
* ``--named``: as on a system without unnamed files (no ``O_TMPFILE``): the copy is written under a temporary name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from vhdfix.copy import CopyProgress

PAUSED = "paused"


class Pause:
    """A progress callback that pauses once, at the first report after data was written."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, progress: CopyProgress) -> None:
        if self.done or not progress.written:
            return
        self.done = True
        print(PAUSED, flush=True)
        sys.stdin.readline()


def start_paused(mode: str, *args: str | Path, named: bool = False) -> subprocess.Popen[str]:
    """The child, once it has paused. stdin, stdout and stderr are pipes: ``communicate()`` resumes it."""
    command = [sys.executable, "-m", "tests.support.paused_repair", mode, *(["--named"] if named else []),
               *map(str, args)]
    child = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    said = child.stdout.readline().strip()
    if said != PAUSED:
        stdout, stderr = child.communicate(timeout=60)
        raise AssertionError(f"the child did not pause (exit {child.returncode}): {said}{stdout}{stderr}")
    return child


def main(argv: list[str]) -> None:
    mode, *args = argv
    if args[:1] == ["--named"]:
        import vhdfix.copy.output

        vhdfix.copy.output.O_TMPFILE = 0
        args = args[1:]
    if mode == "cli":
        from vhdfix.cli import main as cli_main
        from vhdfix.copy.progress import JsonProgress

        pause = Pause()
        JsonProgress.__call__ = lambda self, progress: pause(progress)  # type: ignore[method-assign]
        sys.argv = ["vhdfix", *args]
        cli_main()
        return
    from vhdfix import repair

    disk, out, output_format = args
    result = repair(disk, out, format=output_format, force=True, progress=Pause())
    print(json.dumps(result.to_json()))
    sys.exit(result.exit_code)


if __name__ == "__main__":
    main(sys.argv[1:])
