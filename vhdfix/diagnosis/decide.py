"""Evaluate every article's rules over the evidence and rank the matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vhdfix.diagnosis.catalog import CONFIDENCES, Article
from vhdfix.diagnosis.conditions import evaluate
from vhdfix.evidence.model import EvidenceSet


@dataclass(frozen=True)
class Match:
    article: Article
    confidence: str
    reasons: tuple[str, ...]
    facts: dict[str, Any]

    def to_json(self) -> dict[str, object]:
        return {"article": self.article.id, "title": self.article.title, "confidence": self.confidence,
                "reasons": list(self.reasons), "facts": self.facts}


@dataclass
class Diagnosis:
    matches: list[Match] = field(default_factory=list)  # articles, best first
    states: list[Match] = field(default_factory=list)  # non-article states (healthy, generalized), best first

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def state(self) -> str:
        """The best article's id, else the best named state, else "unknown"."""
        if self.matches:
            return "article"
        return self.states[0].article.id if self.states else "unknown"


def _rank(match: Match) -> tuple[int, int, str]:
    return CONFIDENCES.index(match.confidence), -match.article.priority, match.article.id


def _match(article: Article, evidence: EvidenceSet) -> Match | None:
    """The article's strongest matching rule, with the reasons of every rule that matched."""
    matched = []
    facts: dict[str, Any] = {}
    for rule in article.rules:
        tested: dict[str, Any] = {}
        if evaluate(rule.condition, evidence.facts, tested):
            matched.append(rule)
            facts.update(tested)
    if not matched:
        return None
    best = min(matched, key=lambda rule: CONFIDENCES.index(rule.confidence))
    reasons = tuple(f"[{rule.confidence}] {rule.reason}" for rule in matched)
    return Match(article, best.confidence, reasons, facts)


def diagnose(catalog: list[Article], evidence: EvidenceSet) -> Diagnosis:
    diagnosis = Diagnosis()
    for article in catalog:
        match = _match(article, evidence)
        if match is not None:
            (diagnosis.matches if article.kind == "article" else diagnosis.states).append(match)
    diagnosis.matches.sort(key=_rank)
    diagnosis.states.sort(key=_rank)
    return diagnosis
