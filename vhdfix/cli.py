"""The ``vhdfix`` command line: a thin layer over the Python API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vhdfix import __version__
from vhdfix.diagnosis import load_catalog
from vhdfix.inspection import inspect
from vhdfix.report.inspection_text import render_inspection
from vhdfix.report.style import Style, use_color

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
def inspect_command(disks: tuple[Path, ...], as_json: bool, parents: tuple[Path, ...],
                    follow_parent_paths: bool) -> None:
    """Inspect DISK... and report which Azure boot-error article applies, with the evidence.

    Exit codes: 0 inspected, no article applies; 1 inspected, an article
    applies; 2 usage error; 3 a disk could not be inspected. With several
    disks the highest code wins.
    """
    results = [inspect(disk, parents, follow_parent_paths) for disk in disks]
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


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("vhdfix: interrupted", err=True)
        sys.exit(130)
