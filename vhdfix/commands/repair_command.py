"""``vhdfix repair``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vhdfix.commands.options import DiskLocation, follow_option, parent_option
from vhdfix.copy import TARGET_FORMATS, JsonProgress, ProgressCallback, TerminalProgress
from vhdfix.diagnosis.catalog import RemedyStep, load_catalog
from vhdfix.repair import render_text, repair, step_flag
from vhdfix.report.style import Style, use_color


def _extended_steps() -> dict[str, RemedyStep]:
    """Every extended disk step of the catalogue (not documented by Microsoft, or documented but on request),
    by id: one flag each."""
    steps: dict[str, RemedyStep] = {}
    for article in load_catalog():
        for step in article.remedy:
            if step.extended:
                steps.setdefault(step.id, step)
    return steps


EXTENDED_STEPS = _extended_steps()


def extended_step_options(command: click.Command) -> click.Command:
    for step in reversed(EXTENDED_STEPS.values()):
        label = "Documented by Microsoft, on request." if step.documented else "NOT documented by Microsoft."
        command = click.option(step_flag(step.id), is_flag=True, help=f"{label} {step.text}")(command)
    return command


@click.command("repair")
@click.argument("disk", type=DiskLocation())
@click.option("--output", "-o", required=True, type=DiskLocation(),
              help="The repaired copy to write: a file, or a blob URL (written as a fixed VHD into a page blob: "
                   "an empty upload disk of the right size, or a new blob). The input is never written.")
@click.option("--format", "output_format", type=click.Choice(TARGET_FORMATS), default="same", show_default=True,
              help="same: the input's format (a differencing disk becomes a standalone image); vhd-fixed: ready "
                   "to upload to Azure (size rounded up to a whole MiB).")
@click.option("--dry-run", is_flag=True, help="Diagnose and print the plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema vhdfix.repair/1).")
@parent_option
@follow_option
@click.option("--force", is_flag=True, help="Replace OUT if it exists (never the input or one of its parents); a "
                                           "destination page blob of the right size that holds data is overwritten.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--progress", "progress_mode", type=click.Choice(["auto", "json"]), default="auto", show_default=True,
              help="auto: a progress bar on stderr when it is a terminal; json: one JSON object per line on stderr.")
@click.option("--screen-text", metavar="TEXT",
              help="What the VM's boot-diagnostics screenshot shows (any part of it): picks among articles the disk "
                   "cannot tell apart. Tied articles whose remedies write different things are refused without it.")
@extended_step_options
def repair_command(disk: Path | str, output: Path | str, output_format: str, dry_run: bool, as_json: bool,
                   parents: tuple[Path, ...], follow_parent_paths: bool, force: bool, quiet: bool, progress_mode: str,
                   screen_text: str | None, **step_flags: bool) -> None:
    """Write a repaired copy of DISK to OUT, verified before it is put in place.

    The best matching article's documented disk steps are written; each
    extended step (NOT documented by Microsoft, or documented but on
    request, such as enabling a memory dump) only with its own flag.
    Manual steps, such as VM settings, are printed.

    Exit codes: 0 repaired and verified (dry run: a repair is planned);
    1 nothing to repair; 2 usage error (including OUT existing without
    --force, or OUT being the input or one of its parents); 3 the input
    could not be read; 4 refused as unsafe (the writer's gate code is the
    JSON "error"); 5 OUT could not be written (for example a full disk).
    On any failure or Ctrl-C nothing is left behind.
    """
    extended = [step_id for step_id in EXTENDED_STEPS if step_flags[step_id.replace("-", "_")]]
    progress: ProgressCallback | None = None
    if progress_mode == "json":
        progress = JsonProgress(sys.stderr)
    elif not quiet and sys.stderr.isatty():
        progress = TerminalProgress(sys.stderr)
    result = repair(disk, output, format=output_format, parents=parents, follow_parent_paths=follow_parent_paths,
                    extended=extended, dry_run=dry_run, force=force, progress=progress, screen_text=screen_text)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        if result.error is not None:
            click.echo(f"vhdfix: {result.input}: [{result.error.code}] {result.error.message}", err=True)
    else:
        click.echo(render_text(result, Style(use_color(sys.stdout))))
    sys.exit(result.exit_code)
