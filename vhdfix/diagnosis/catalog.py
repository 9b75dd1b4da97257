"""The article catalogue: one TOML file per article (or non-article state) in ``articles/``."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vhdfix.diagnosis.actions import Action, parse_action
from vhdfix.diagnosis.conditions import validate
from vhdfix.errors import ArticleInvalid

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIDENCES = ("high", "medium", "low")
KINDS = ("article", "state")


@dataclass(frozen=True)
class MatchRule:
    confidence: str
    reason: str
    condition: dict[str, Any]


@dataclass(frozen=True)
class RemedyStep:
    id: str
    text: str
    documented: bool
    source: str
    action: Action
    on_request: bool = False  # a documented disk step that is not the fix itself (enable a memory dump)

    @property
    def writes_disk(self) -> bool:
        return self.action.writes_disk

    @property
    def extended(self) -> bool:
        """A disk step written only when asked for by name: one Microsoft does not document, or one marked
        ``on_request`` (documented, but a preparation such as enabling a memory dump rather than the fix)."""
        return self.writes_disk and (not self.documented or self.on_request)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "documented": self.documented, "source": self.source,
                "action": self.action.to_json(), **({"on_request": True} if self.on_request else {})}


@dataclass(frozen=True)
class Article:
    id: str
    kind: str  # "article": an Azure boot-error article; "state": a named non-article state
    title: str
    screen_text: str
    link: str
    sources: tuple[str, ...]
    summary: str
    steps: tuple[str, ...]
    priority: int
    rules: tuple[MatchRule, ...]
    remedy: tuple[RemedyStep, ...] = field(default=())
    path: str = ""

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "screen_text": self.screen_text,
                "link": self.link, "sources": list(self.sources), "summary": self.summary,
                "steps": list(self.steps), "remedy": [step.to_json() for step in self.remedy]}


def _required(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data or not isinstance(data[key], kind):
        raise ArticleInvalid(f"{where}: '{key}' is required and must be a {kind.__name__}")
    return data[key]


def _table(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ArticleInvalid(f"{where}: must be a table")
    return data


def _rule(data: dict[str, Any], where: str) -> MatchRule:
    confidence = _required(data, "confidence", str, where)
    if confidence not in CONFIDENCES:
        raise ArticleInvalid(f"{where}: confidence must be one of {', '.join(CONFIDENCES)}")
    condition = {key: value for key, value in data.items() if key in ("all", "any", "not")}
    if len(condition) != 1:
        raise ArticleInvalid(f"{where}: a match needs exactly one of 'all', 'any' or 'not'")
    validate(condition, where)
    return MatchRule(confidence, _required(data, "reason", str, where), condition)


def _remedy(data: dict[str, Any], where: str) -> RemedyStep:
    on_request = data.get("on_request", False)
    if not isinstance(on_request, bool):
        raise ArticleInvalid(f"{where}: 'on_request' must be true or false")
    return RemedyStep(_required(data, "id", str, where), _required(data, "text", str, where),
                      _required(data, "documented", bool, where), _required(data, "source", str, where),
                      parse_action(data.get("action"), where), on_request)


def parse_article(text: str, where: str) -> Article:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ArticleInvalid(f"{where}: not valid TOML: {exc}") from None
    kind = _required(data, "kind", str, where)
    if kind not in KINDS:
        raise ArticleInvalid(f"{where}: kind must be one of {', '.join(KINDS)}")
    rules = tuple(_rule(_table(rule, f"{where} match[{i}]"), f"{where} match[{i}]")
                  for i, rule in enumerate(_required(data, "match", list, where)))
    if not rules:
        raise ArticleInvalid(f"{where}: 'match' needs at least one rule, or the article can never apply")
    remedy = tuple(_remedy(_table(step, f"{where} remedy[{i}]"), f"{where} remedy[{i}]")
                   for i, step in enumerate(data.get("remedy", [])))
    return Article(
        id=_required(data, "id", str, where),
        kind=kind,
        title=_required(data, "title", str, where),
        screen_text=data.get("screen_text", ""),
        link=data.get("link", ""),
        sources=tuple(_required(data, "sources", list, where)),
        summary=_required(data, "summary", str, where),
        steps=tuple(data.get("steps", [])),
        priority=int(data.get("priority", 0)),
        rules=rules,
        remedy=remedy,
        path=where,
    )


def articles_directory() -> Path:
    """The bundled ``articles/`` directory (installed as package data ``vhdfix.articles_data``)."""
    # Beside the package's __init__, rather than through importlib.resources, which takes longer to import
    # than the catalogue takes to load.
    return Path(importlib.import_module("vhdfix.articles_data").__file__ or "").parent


def load_catalog(directory: Path | None = None) -> list[Article]:
    """Every ``*.toml`` in ``directory`` (default: the bundled articles), sorted by id."""
    folder = directory or articles_directory()
    articles = sorted((parse_article(path.read_text(encoding="utf-8"), path.name)
                       for path in sorted(folder.glob("*.toml"))), key=lambda article: article.id)
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise ArticleInvalid(f"{article.path}: article id {article.id} is defined twice")
        seen.add(article.id)
    return articles
