"""The article catalogue: one TOML file per article (or non-article state) in ``articles/``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vhdfix.diagnosis.conditions import validate
from vhdfix.errors import ArticleInvalid

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIDENCES = ("high", "medium", "low")
KINDS = ("article", "state")
ACTION_TYPES = ("manual", "delete-files", "set-values")
VALUE_TYPES = ("REG_DWORD", "REG_SZ")


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
    action: dict[str, Any]

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "documented": self.documented, "source": self.source,
                "action": self.action}


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
    action = _required(data, "action", dict, where)
    if action.get("type") not in ACTION_TYPES:
        raise ArticleInvalid(f"{where}: action type must be one of {', '.join(ACTION_TYPES)}")
    if action["type"] == "delete-files":
        paths = action.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
            raise ArticleInvalid(f"{where}: a delete-files action needs a non-empty list of 'paths'")
    if action["type"] == "set-values":
        values = action.get("values")
        if not isinstance(values, list) or not values:
            raise ArticleInvalid(f"{where}: a set-values action needs a non-empty list of 'values'")
        for value in values:
            if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("hive", "key", "name")) \
                    or value.get("value_type") not in VALUE_TYPES or "value" not in value:
                raise ArticleInvalid(f"{where}: each value needs 'hive', 'key', 'name', 'value' and a "
                                     f"'value_type' of {', '.join(VALUE_TYPES)}")
    return RemedyStep(_required(data, "id", str, where), _required(data, "text", str, where),
                      _required(data, "documented", bool, where), _required(data, "source", str, where), action)


def parse_article(text: str, where: str) -> Article:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ArticleInvalid(f"{where}: not valid TOML: {exc}") from None
    kind = _required(data, "kind", str, where)
    if kind not in KINDS:
        raise ArticleInvalid(f"{where}: kind must be one of {', '.join(KINDS)}")
    rules = tuple(_rule(rule, f"{where} match[{i}]") for i, rule in enumerate(_required(data, "match", list, where)))
    remedy = tuple(_remedy(step, f"{where} remedy[{i}]") for i, step in enumerate(data.get("remedy", [])))
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
    return Path(str(resources.files("vhdfix.articles_data")))


def load_catalog(directory: Path | None = None) -> list[Article]:
    """Every ``*.toml`` in ``directory`` (default: the bundled articles), sorted by id."""
    folder = directory or articles_directory()
    articles = [parse_article(path.read_text(encoding="utf-8"), path.name) for path in sorted(folder.glob("*.toml"))]
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise ArticleInvalid(f"{article.path}: article id {article.id} is defined twice")
        seen.add(article.id)
    return articles
