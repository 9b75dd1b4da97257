"""``vhdfix inspect``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vhdfix.budget import DEFAULT_TIME_BUDGET
from vhdfix.commands.options import DiskLocation, follow_option, parent_option
from vhdfix.inspection import inspect
from vhdfix.report.inspection_text import render_inspection
from vhdfix.report.style import Style, use_color


@click.command("inspect")
@click.argument("disks", nargs=-1, required=True, type=DiskLocation())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object, or an array for several disks).")
@parent_option
@follow_option
@click.option("--time-budget", "budget_seconds", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_TIME_BUDGET, show_default=True,
              help="Seconds allowed per disk; a disk whose structures take longer to read (crafted or badly "
                   "damaged) ends with error code time-budget-exceeded.")
@click.option("--screen-text", metavar="TEXT",
              help="What the VM's boot-diagnostics screenshot shows (any part of it): picks among articles the disk "
                   "cannot tell apart, and names an article whose cause leaves no trace on the disk.")
def inspect_command(disks: tuple[Path | str, ...], as_json: bool, parents: tuple[Path, ...],
                    follow_parent_paths: bool, budget_seconds: float, screen_text: str | None) -> None:
    """Inspect DISK... and report which Azure boot-error article applies, with the evidence.

    A DISK may be a blob URL in Azure Storage (https; with a SAS, else the
    AZURE_STORAGE_CONNECTION_STRING or Azure AD sign-in): only the parts
    inspected are downloaded. A DISK vhdfix's own readers do not open (an
    Acquire tar or zip, a directory of Windows files, E01, VDI...) is opened
    through dissect.target's loaders, read only, and the report says so.

    Exit codes: 0 inspected, no article applies; 1 inspected, an article
    applies; 2 usage error; 3 a disk could not be inspected. With several
    disks the highest code wins.
    """
    results = [inspect(disk, parents, follow_parent_paths, budget_seconds=budget_seconds, screen_text=screen_text)
               for disk in disks]
    if as_json:
        payload = results[0].to_json() if len(results) == 1 else [r.to_json() for r in results]
        click.echo(json.dumps(payload, indent=2))
        for result in results:
            if result.error is not None:
                click.echo(f"vhdfix: {result.path}: [{result.error.code}] {result.error.message}", err=True)
    else:
        style = Style(use_color(sys.stdout))
        click.echo("\n\n".join(render_inspection(r, style) for r in results))
    sys.exit(max(r.exit_code for r in results))
