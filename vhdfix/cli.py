"""The ``vhdfix`` command line: a thin layer over the Python API."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from vhdfix.budget import DEFAULT_TIME_BUDGET
from vhdfix.copy import TARGET_FORMATS, JsonProgress, ProgressCallback, TerminalProgress
from vhdfix.diagnosis import RemedyStep, load_catalog
from vhdfix.inspection import inspect
from vhdfix.repair import render_text, repair, step_flag
from vhdfix.report.inspection_text import render_inspection
from vhdfix.report.style import Style, use_color
from vhdfix.version import __version__

EXIT_USAGE = 2

disk_argument = click.argument("disks", nargs=-1, required=True, type=click.Path(path_type=Path))
parent_option = click.option("--parent", "parents", multiple=True, type=click.Path(path_type=Path),
                             help="Parent disk of a differencing image; repeat for deeper chains, nearest first. "
                                  "Overrides the lookup beside the child.")
follow_option = click.option("--follow-parent-paths", is_flag=True,
                             help="Also follow the relative/absolute parent paths stored inside the image "
                                  "(by default only their file names are looked up beside the child).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vhdfix")
def cli() -> None:
    """Diagnose and repair broken Azure Windows VM OS disks (VHD/VHDX), offline and read-only."""


@cli.command("inspect")
@disk_argument
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object, or an array for several disks).")
@parent_option
@follow_option
@click.option("--time-budget", "budget_seconds", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_TIME_BUDGET, show_default=True,
              help="Seconds allowed per disk; a disk whose structures take longer to read (crafted or badly "
                   "damaged) ends with error code time-budget-exceeded.")
def inspect_command(disks: tuple[Path, ...], as_json: bool, parents: tuple[Path, ...],
                    follow_parent_paths: bool, budget_seconds: float) -> None:
    """Inspect DISK... and report which Azure boot-error article applies, with the evidence.

    Exit codes: 0 inspected, no article applies; 1 inspected, an article
    applies; 2 usage error; 3 a disk could not be inspected. With several
    disks the highest code wins.
    """
    results = [inspect(disk, parents, follow_parent_paths, budget_seconds=budget_seconds) for disk in disks]
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


@cli.command("articles")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def articles_command(as_json: bool) -> None:
    """List the articles (and non-article states) vhdfix can diagnose."""
    catalog = load_catalog()
    if as_json:
        click.echo(json.dumps([article.to_json() for article in catalog], indent=2))
        return
    style = Style(use_color(sys.stdout))
    for article in catalog:
        kind = "" if article.kind == "article" else "  (state, not an article)"
        click.echo(f"{style.heading(article.id)}{kind}\n  {article.title}")
        if article.link:
            click.echo(f"  {article.link}")


def _extended_steps() -> dict[str, RemedyStep]:
    """Every extended (not documented by Microsoft) disk step of the catalogue, by id: one flag each."""
    steps: dict[str, RemedyStep] = {}
    for article in load_catalog():
        for step in article.remedy:
            if step.extended:
                steps.setdefault(step.id, step)
    return steps


EXTENDED_STEPS = _extended_steps()


def extended_step_options(command: click.Command) -> click.Command:
    for step in reversed(EXTENDED_STEPS.values()):
        command = click.option(step_flag(step.id), is_flag=True,
                               help=f"NOT documented by Microsoft. {step.text}")(command)
    return command


@cli.command("repair")
@click.argument("disk", type=click.Path(path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="The repaired copy to write. The input is never written.")
@click.option("--format", "output_format", type=click.Choice(TARGET_FORMATS), default="same", show_default=True,
              help="same: the input's format (a differencing disk becomes a standalone image); vhd-fixed: ready "
                   "to upload to Azure (size rounded up to a whole MiB).")
@click.option("--dry-run", is_flag=True, help="Diagnose and print the plan; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema vhdfix.repair/1).")
@parent_option
@follow_option
@click.option("--force", is_flag=True, help="Replace OUT if it exists (never the input or one of its parents).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--progress", "progress_mode", type=click.Choice(["auto", "json"]), default="auto", show_default=True,
              help="auto: a progress bar on stderr when it is a terminal; json: one JSON object per line on stderr.")
@extended_step_options
def repair_command(disk: Path, output: Path, output_format: str, dry_run: bool, as_json: bool,
                   parents: tuple[Path, ...], follow_parent_paths: bool, force: bool, quiet: bool, progress_mode: str,
                   **step_flags: bool) -> None:
    """Write a repaired copy of DISK to OUT, verified before it is put in place.

    The best matching article's documented disk steps are written; each
    extended step (NOT documented by Microsoft) only with its own flag.
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
                    extended=extended, dry_run=dry_run, force=force, progress=progress)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        if result.error is not None:
            click.echo(f"vhdfix: {disk}: [{result.error.code}] {result.error.message}", err=True)
    else:
        click.echo(render_text(result, Style(use_color(sys.stdout))))
    sys.exit(result.exit_code)


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
