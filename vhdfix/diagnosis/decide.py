"""Evaluate every article's rules over the evidence, rank the matches, and say which of them are tied.

Two matches are *tied* when they have the same confidence and rest on the same evidence: the rules that gave
them that confidence tested the same facts, with the same values. The disk cannot tell tied articles apart;
what the VM's screen shows can. ``screen_text`` (what the user pasted from the boot-diagnostics screenshot)
names articles (:mod:`vhdfix.diagnosis.screen`): a named article with a match on the disk ranks first, so it
breaks a tie; a named article with no sign of its cause on the disk is reported as such, at low confidence.
A screen text that names no article changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vhdfix.diagnosis.catalog import CONFIDENCES, Article
from vhdfix.diagnosis.conditions import evaluate
from vhdfix.diagnosis.screen import ScreenReading, read_screen
from vhdfix.evidence.model import EvidenceSet

SCREEN_ONLY_REASON = "named by the screen text; no sign of its cause on the disk"


@dataclass(frozen=True)
class Match:
    article: Article
    confidence: str
    reasons: tuple[str, ...]
    facts: dict[str, Any]
    basis: tuple[tuple[str, str], ...] = ()  # the facts (name, repr of value) behind the confidence: ties compare it
    named_by_screen: bool = False
    disk_evidence: bool = True  # False: only the screen text names it

    def ties_with(self, other: Match) -> bool:
        return (self.confidence, self.basis, self.named_by_screen, self.disk_evidence) == \
            (other.confidence, other.basis, other.named_by_screen, other.disk_evidence)

    def to_json(self) -> dict[str, object]:
        return {"article": self.article.id, "title": self.article.title, "platform": self.article.platform,
                "confidence": self.confidence, "reasons": list(self.reasons), "facts": self.facts,
                "named_by_screen": self.named_by_screen, "disk_evidence": self.disk_evidence}


@dataclass
class Diagnosis:
    matches: list[Match] = field(default_factory=list)  # articles, best first
    states: list[Match] = field(default_factory=list)  # non-article states (healthy, generalized), best first
    screen: ScreenReading | None = None  # what --screen-text named, when it was given

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def tied(self) -> list[Match]:
        """The best match and every match tied with it (same confidence, same evidence): the first matches."""
        best = self.best
        return [match for match in self.matches if match.ties_with(best)] if best else []

    @property
    def state(self) -> str:
        """The best article's id, else the best named state, else "unknown"."""
        if self.matches:
            return "article"
        return self.states[0].article.id if self.states else "unknown"

    def tied_json(self) -> list[dict[str, object]]:
        return [{"article": match.article.id, "title": match.article.title, "confidence": match.confidence,
                 "screen_text": match.article.screen_text} for match in self.tied]


def _rank(match: Match) -> tuple[int, int, int, str]:
    named_on_disk = match.named_by_screen and match.disk_evidence
    return 0 if named_on_disk else 1, CONFIDENCES.index(match.confidence), -match.article.priority, match.article.id


def _remedy_facts(article: Article, evidence: EvidenceSet) -> dict[str, Any]:
    return {fact: evidence.facts.get(fact) for fact in article.remedy_facts}


def _match(article: Article, evidence: EvidenceSet, named: bool) -> Match | None:
    """The article's strongest matching rule, with the reasons of every rule that matched."""
    matched = []
    facts: dict[str, Any] = {}
    for rule in article.rules:
        if rule.needs_screen and not named:
            continue
        tested: dict[str, Any] = {}
        if evaluate(rule.condition, evidence.facts, tested):
            matched.append((rule, tested))
            facts.update(tested)
    if not matched:
        return None
    confidence = min((rule.confidence for rule, _ in matched), key=CONFIDENCES.index)
    basis: dict[str, str] = {}
    for rule, tested in matched:
        if rule.confidence == confidence:
            basis.update((fact, repr(value)) for fact, value in tested.items())
    reasons = tuple(f"[{rule.confidence}] {rule.reason}" for rule, _ in matched)
    return Match(article, confidence, reasons, {**facts, **_remedy_facts(article, evidence)},
                 tuple(sorted(basis.items())), named)


def diagnose(catalog: list[Article], evidence: EvidenceSet, screen_text: str | None = None) -> Diagnosis:
    diagnosis = Diagnosis()
    if screen_text is not None:
        diagnosis.screen = read_screen(screen_text, catalog)
    named = set(diagnosis.screen.named_ids) if diagnosis.screen else set()
    for article in catalog:
        match = _match(article, evidence, article.id in named)
        if match is None and article.id in named:
            match = Match(article, "low", (f"[low] {SCREEN_ONLY_REASON}",), _remedy_facts(article, evidence),
                          named_by_screen=True, disk_evidence=False)
        if match is not None:
            (diagnosis.matches if article.kind == "article" else diagnosis.states).append(match)
    diagnosis.matches.sort(key=_rank)
    diagnosis.states.sort(key=_rank)
    # the tied set first, even where an untied match of the same confidence ranks between two of its members
    tied = diagnosis.tied
    diagnosis.matches = tied + [match for match in diagnosis.matches if match not in tied]
    return diagnosis
