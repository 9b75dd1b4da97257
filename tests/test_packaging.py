"""The package list in pyproject.toml names every vhdfix package, and the articles ship with it."""

from __future__ import annotations

import sys
from pathlib import Path

from vhdfix.diagnosis.catalog import articles_directory

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent


def test_every_package_is_listed() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "vhdfix").rglob("__init__.py")}
    assert found | {"vhdfix.articles_data"} == listed


def test_articles_are_importable_package_data() -> None:
    assert sorted(p.name for p in articles_directory().glob("*.toml")) == \
        sorted(p.name for p in (REPO / "articles").glob("*.toml"))
