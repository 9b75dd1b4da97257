"""Every fact the bundled articles test is one the evidence code produces.

A misspelt fact raises nothing: the rule reads None, so a test on it never holds and a ``not`` over it always
does. The facts the evidence code produces are taken from real inspections of every fixture disk, not from a
list kept beside the code; the one list here is the issue-13 contract's (CONTRACT-13.md), whose facts the
evidence helper's branch adds and the article rules already test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vhdfix.diagnosis import Article, load_catalog
from vhdfix.inspection import Inspection


def unknown_facts(catalog: list[Article], produced: set[str]) -> dict[str, set[str]]:
    """Article id -> the facts its rules (or remedy facts) name that are not in ``produced`` (none: left out)."""
    unknown = {article.id: {*article.evidence_facts, *article.remedy_facts} - produced for article in catalog}
    return {article_id: facts for article_id, facts in unknown.items() if facts}


@pytest.fixture(scope="module")
def produced_facts(inspected_fixtures: dict[str, Inspection]) -> set[str]:
    """The facts of every fixture disk's ``inspect --json`` output, together.

    The evidence code (vhdfix/evidence/collect.py) sets every fact on every inspection that reaches it: registry
    facts as None when the hive or value is missing, file facts as booleans, log facts as line counts, derived
    facts always. So each disk gives the same names (test below); the union is taken all the same, so that a
    fact set only on some disks would still count as produced.
    """
    for name, result in inspected_fixtures.items():
        assert result.error is None, f"{name}: {result.error}"
    return {fact for result in inspected_fixtures.values() for fact in result.to_json()["facts"]}


def test_every_fact_the_articles_test_is_produced(produced_facts: set[str]) -> None:
    assert unknown_facts(load_catalog(), produced_facts) == {}


def test_every_inspection_reports_every_fact(inspected_fixtures: dict[str, Inspection],
                                             produced_facts: set[str]) -> None:
    """The JSON contract: ``facts`` holds every fact the rules can test, whatever the disk holds."""
    for name, result in inspected_fixtures.items():
        assert set(result.to_json()["facts"]) == produced_facts, name


CONDITIONS_WITH_A_MISSPELT_FACT = {
    "a test": '{ fact = "setup.OOBEInProgres", equals = 1 }',
    "in any": '{ any = [{ fact = "image_state", equals = "IMAGE_STATE_COMPLETE" }, '
              '{ fact = "setup.OOBEInProgres", equals = 1 }] }',
    "in not": '{ not = { fact = "setup.OOBEInProgres", equals = 1 } }',
    "deep": '{ all = [{ fact = "image_state", present = true }, '
            '{ any = [{ not = { fact = "setup.OOBEInProgres", equals = 1 } }] }] }',
}


@pytest.mark.parametrize("condition", CONDITIONS_WITH_A_MISSPELT_FACT.values(), ids=CONDITIONS_WITH_A_MISSPELT_FACT)
def test_a_misspelt_fact_is_found(condition: str, produced_facts: set[str], tmp_path: Path) -> None:
    article = f'''\
id = "misspelt"
kind = "article"
title = "An article with a typo"
sources = []
summary = ""

[[match]]
confidence = "high"
reason = "spelt right"
all = [{{ fact = "setup.OOBEInProgress", equals = 1 }}]

[[match]]
confidence = "low"
reason = "misspelt"
all = [{{ fact = "image_state", present = true }}, {condition}]
'''
    (tmp_path / "misspelt.toml").write_text(article, encoding="utf-8")
    assert unknown_facts(load_catalog(tmp_path), produced_facts) == {"misspelt": {"setup.OOBEInProgres"}}
