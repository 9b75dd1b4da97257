"""``vhdfix articles``."""

from __future__ import annotations

import json
import sys

import click

from vhdfix.diagnosis.catalog import load_catalog
from vhdfix.report.style import Style, use_color


@click.command("articles")
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
