"""The article catalogue: one TOML file per article (or non-article state) in ``articles/``."""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vhdfix.diagnosis.actions import Action, parse_action
from vhdfix.diagnosis.conditions import condition_facts, validate
from vhdfix.errors import ArticleInvalid

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIDENCES = ("high", "medium", "low")
KINDS = ("article", "state")
PLATFORMS = ("windows", "linux")
NO_DETECTION = "none: "  # an article without rules says why: detection = "none: <why the disk cannot show it>"


@dataclass(frozen=True)
class MatchRule:
    confidence: str
    reason: str
    condition: dict[str, Any]
    needs_screen: bool = False  # ``screen = true``: holds only when --screen-text names the article


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
    detection: str = ""  # "none: <why>" for an article the disk cannot show; empty when it has rules
    platform: str = "windows"
    screen_variants: tuple[str, ...] = ()  # other wordings of the same screen, for --screen-text
    remedy_facts: tuple[str, ...] = ()  # facts shown with the article because Microsoft's steps depend on them

    @property
    def detected(self) -> bool:
        return bool(self.rules)

    @property
    def evidence_facts(self) -> tuple[str, ...]:
        """Every fact the article's rules test, in the order they first appear."""
        return tuple(dict.fromkeys(fact for rule in self.rules for fact in condition_facts(rule.condition)))

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "platform": self.platform, "title": self.title,
                "screen_text": self.screen_text, "screen_variants": list(self.screen_variants), "link": self.link,
                "sources": list(self.sources), "summary": self.summary, "steps": list(self.steps),
                "detection": self.detection or "rules", "evidence_facts": list(self.evidence_facts),
                "rules": [{"confidence": rule.confidence, "reason": rule.reason, "needs_screen": rule.needs_screen}
                          for rule in self.rules],
                "remedy_facts": list(self.remedy_facts), "remedy": [step.to_json() for step in self.remedy]}


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
    unknown = set(data) - {"confidence", "reason", "screen", *condition}
    if unknown:
        raise ArticleInvalid(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    needs_screen = data.get("screen", False)
    if not isinstance(needs_screen, bool):
        raise ArticleInvalid(f"{where}: 'screen' must be true or false")
    validate(condition, where)
    return MatchRule(confidence, _required(data, "reason", str, where), condition, needs_screen)


def _strings(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ArticleInvalid(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(value)


def _detection(data: dict[str, Any], rules: tuple[MatchRule, ...], where: str) -> str:
    """An article has rules, or says why it has none; never both, never neither."""
    detection = data.get("detection", "")
    if not isinstance(detection, str):
        raise ArticleInvalid(f"{where}: 'detection' must be a string")
    if rules and detection:
        raise ArticleInvalid(f"{where}: an article with 'match' rules has no 'detection' line")
    if not rules and not (detection.startswith(NO_DETECTION) and detection[len(NO_DETECTION):].strip()):
        raise ArticleInvalid(f"{where}: 'match' needs at least one rule; an article the disk cannot show says why "
                             f"with detection = \"{NO_DETECTION}<why>\"")
    return detection


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
    if "match" in data and not isinstance(data["match"], list):
        raise ArticleInvalid(f"{where}: 'match' must be a list of rules")
    rules = tuple(_rule(_table(rule, f"{where} match[{i}]"), f"{where} match[{i}]")
                  for i, rule in enumerate(data.get("match", [])))
    detection = _detection(data, rules, where)
    if kind == "state" and not rules:
        raise ArticleInvalid(f"{where}: a state needs 'match' rules")
    platform = data.get("platform", "windows")
    if platform not in PLATFORMS:
        raise ArticleInvalid(f"{where}: platform must be one of {', '.join(PLATFORMS)}")
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
        detection=detection,
        platform=platform,
        screen_variants=_strings(data, "screen_variants", where),
        remedy_facts=_strings(data, "remedy_facts", where),
    )


def articles_directory() -> Path:
    """The bundled ``articles/`` directory (installed as package data ``vhdfix.articles_data``)."""
    # Beside the package's __init__, rather than through importlib.resources, which takes longer to import
    # than the catalogue takes to load.
    return Path(importlib.import_module("vhdfix.articles_data").__file__ or "").parent


def load_catalog(directory: Path | None = None) -> list[Article]:
    """Every ``*.toml`` in ``directory`` (default: the bundled articles, parsed once per process: a repair
    diagnoses the input and its copy), sorted by id."""
    if directory is None:
        return list(_bundled_catalog())
    return _load(directory)


@functools.cache
def _bundled_catalog() -> tuple[Article, ...]:
    return tuple(_load(articles_directory()))


def _load(folder: Path) -> list[Article]:
    articles = sorted((parse_article(path.read_text(encoding="utf-8"), path.name)
                       for path in sorted(folder.glob("*.toml"))), key=lambda article: article.id)
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise ArticleInvalid(f"{article.path}: article id {article.id} is defined twice")
        seen.add(article.id)
    return articles
