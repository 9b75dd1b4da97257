"""``vhdfix articles``."""

from __future__ import annotations

import json
import sys

import click

from vhdfix.diagnosis.catalog import load_catalog
from vhdfix.diagnosis.coverage import coverage_markdown, detected
from vhdfix.report.style import Style, use_color


@click.command("articles")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option("--coverage", is_flag=True, help="Print the README's coverage table (Markdown).")
def articles_command(as_json: bool, coverage: bool) -> None:
    """List the articles (and non-article states) vhdfix knows, and whether the disk can show each."""
    catalog = load_catalog()
    if as_json:
        click.echo(json.dumps([article.to_json() for article in catalog], indent=2))
        return
    if coverage:
        click.echo(coverage_markdown(catalog), nl=False)
        return
    style = Style(use_color(sys.stdout))
    for article in catalog:
        kind = "" if article.kind == "article" else "  (state, not an article)"
        platform = "  (Linux article)" if article.platform == "linux" else ""
        click.echo(f"{style.heading(article.id)}{kind}{platform}\n  {article.title}")
        if article.screen_text:
            click.echo(f"  screen:   {article.screen_text}")
        if article.kind == "article":
            click.echo(f"  detected: {detected(article).replace('`', '')}")
        if article.link:
            click.echo(f"  {article.link}")
