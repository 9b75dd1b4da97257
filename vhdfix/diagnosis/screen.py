"""Matching what the boot-diagnostics screenshot shows (pasted by the user) against the articles' screen texts.

The paste is compared word for word, ignoring case, punctuation and spacing. It may be any part of a screen
text (a truncated or partial copy), or hold a whole screen text with more around it. A whole screen text found
in the paste beats a fragment, and the longest whole one wins; among fragments, the one that covers more of its
screen text wins. Each article is matched on its ``screen_text`` and its ``screen_variants`` (other wordings of
the same screen).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vhdfix.diagnosis.catalog import Article

# A fragment shorter than this many letters and digits names too many screens to be a choice ("Please").
MINIMUM_FRAGMENT = 6
# The longest screen text is under 200 characters; a longer paste is cut here, so its cost stays bounded.
MAXIMUM_PASTE = 2000
_WORD = re.compile(r"[^\W_]+")


_APOSTROPHES = str.maketrans("", "", "'\u2018\u2019")


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces: no punctuation, no line breaks, no repeated spaces. An
    apostrophe joins its word ("Don't" and "Dont" are the same word)."""
    return " ".join(_WORD.findall(text.casefold().translate(_APOSTROPHES)))


@dataclass(frozen=True)
class ScreenReading:
    """What ``--screen-text`` named: the articles whose screen text it matched best (empty: none)."""

    text: str
    named: tuple[Article, ...]

    @property
    def named_ids(self) -> tuple[str, ...]:
        return tuple(article.id for article in self.named)

    def to_json(self) -> dict[str, object]:
        return {"text": self.text,
                "matched": [{"article": article.id, "screen_text": article.screen_text} for article in self.named]}


def _score(paste: str, screen: str) -> tuple[int, float]:
    """(2, its length) when the paste holds the whole screen text, so that the longest one found wins; else
    (1, the share of the screen text the paste covers); else (0, 0)."""
    if not screen:
        return 0, 0.0
    if f" {screen} " in f" {paste} ":
        return 2, float(len(screen))
    if len(paste.replace(" ", "")) >= MINIMUM_FRAGMENT and paste in screen:
        return 1, len(paste) / len(screen)
    return 0, 0.0


def read_screen(text: str, articles: Iterable[Article]) -> ScreenReading:
    """The articles ``text`` names: those with the best non-zero score (several when they share a screen)."""
    text = text[:MAXIMUM_PASTE]
    paste = normalize(text)
    scores: dict[str, tuple[tuple[int, float], Article]] = {}
    for article in articles:
        if article.kind != "article":
            continue
        best = max(_score(paste, normalize(screen)) for screen in (article.screen_text, *article.screen_variants))
        if best[0] > 0:
            scores[article.id] = (best, article)
    if not scores:
        return ScreenReading(text, ())
    top = max(score for score, _ in scores.values())
    return ScreenReading(text, tuple(article for score, article in scores.values() if score == top))
