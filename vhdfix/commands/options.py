"""Options that several subcommands share."""

from __future__ import annotations

from pathlib import Path

import click

parent_option = click.option("--parent", "parents", multiple=True, type=click.Path(path_type=Path),
                             help="Parent disk of a differencing image; repeat for deeper chains, nearest first. "
                                  "Overrides the lookup beside the child.")
follow_option = click.option("--follow-parent-paths", is_flag=True,
                             help="Also follow the relative/absolute parent paths stored inside the image "
                                  "(by default only their file names are looked up beside the child).")
