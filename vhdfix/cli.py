"""The ``vhdfix`` command line: a thin layer over the Python API.

Each subcommand lives in its own module under :mod:`vhdfix.commands` and is imported only when it runs, so that
``vhdfix inspect`` never loads the copy engine, the writer or the repair command's options.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType

import click

from vhdfix.version import __version__

COMMANDS = {
    "inspect": ("vhdfix.commands.inspect_command", "inspect_command"),
    "repair": ("vhdfix.commands.repair_command", "repair_command"),
    "articles": ("vhdfix.commands.articles_command", "articles_command"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vhdfix")
def cli() -> None:
    """Diagnose and repair broken Azure Windows VM OS disks (VHD/VHDX), offline and read-only."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, so a partial output is removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def main() -> None:
    # A job runner stops vhdfix with SIGTERM (a closed terminal sends SIGHUP); by default either kills the process
    # before the copy's temporary file can be removed.
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit code 1, which repair uses for
    # "nothing to repair".
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("vhdfix: interrupted", err=True)
        sys.exit(130)
    except Terminated as stop:
        click.echo(f"vhdfix: terminated by {signal.Signals(stop.signum).name}", err=True)
        sys.exit(128 + stop.signum)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)  # the reader of our output went away, as click's standalone mode handles it
