"""Options that several subcommands share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from vhdfix.errors import RemoteUrlInvalid
from vhdfix.remote import BlobUrl, is_url


class DiskLocation(click.ParamType):
    """A local path (as a Path), or an http(s) blob URL kept as the string it is: a Path would fold its "//"."""

    name = "disk"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path) or not is_url(value):
            return Path(value)
        try:
            BlobUrl.parse(value)
        except RemoteUrlInvalid as exc:
            self.fail(exc.message, param, ctx)
        return str(value)


parent_option = click.option("--parent", "parents", multiple=True, type=click.Path(path_type=Path),
                             help="Parent disk of a differencing image; repeat for deeper chains, nearest first. "
                                  "Overrides the lookup beside the child.")
follow_option = click.option("--follow-parent-paths", is_flag=True,
                             help="Also follow the relative/absolute parent paths stored inside the image "
                                  "(by default only their file names are looked up beside the child).")
