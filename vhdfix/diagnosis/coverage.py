"""The coverage table of the README: every article, whether vhdfix detects it, from what, and what repair does.

Generated from the catalogue (``vhdfix articles --coverage`` prints it); a test keeps the README's copy equal.
"""

from __future__ import annotations

from vhdfix.diagnosis.catalog import NO_DETECTION, Article

HEADER = ("| article | detected | from (evidence facts; shows: facts Microsoft's steps need) | tied with (same rules) "
          "| `repair` |\n"
          "|---|---|---|---|---|")


def detected(article: Article) -> str:
    if not article.detected:
        return "no: " + article.detection[len(NO_DETECTION):]
    if all(rule.needs_screen for rule in article.rules):
        return "only with `--screen-text`"
    return "yes (Linux disk)" if article.platform == "linux" else "yes"


def repair_does(article: Article) -> str:
    """What ``vhdfix repair`` does when this article is diagnosed."""
    writes = [f"writes `{step.id}`" for step in article.remedy if step.writes_disk and step.documented]
    on_request = [f"`--{step.id}` on request" for step in article.remedy if step.extended]
    manual = sum(1 for step in article.remedy if not step.writes_disk)
    done = writes + on_request
    if not done:
        return f"nothing written; prints Microsoft's {manual} manual step{'s' if manual != 1 else ''}"
    return "; ".join(done) + (f"; prints {manual} manual step{'s' if manual != 1 else ''}" if manual else "")


def _rule_set(article: Article) -> tuple[tuple[str, str, bool], ...]:
    return tuple((rule.confidence, repr(rule.condition), rule.needs_screen) for rule in article.rules)


def tie_partners(article: Article, catalog: list[Article]) -> list[Article]:
    """The other articles with the same rules: the disk evidence can never tell them apart."""
    if not article.rules:
        return []
    return [other for other in catalog
            if other.id != article.id and other.kind == "article" and _rule_set(other) == _rule_set(article)]


def coverage_markdown(catalog: list[Article]) -> str:
    rows = [HEADER]
    for article in catalog:
        if article.kind != "article":
            continue
        facts = ", ".join(f"`{fact}`" for fact in article.evidence_facts) or "—"
        if article.remedy_facts:
            facts += "; shows " + ", ".join(f"`{fact}`" for fact in article.remedy_facts)
        partners = ", ".join(other.id.removeprefix("OSStartUp-") for other in tie_partners(article, catalog)) or "—"
        rows.append(f"| `{article.id}` | {detected(article)} | {facts} | {partners} | {repair_does(article)} |")
    return "\n".join(rows) + "\n"
