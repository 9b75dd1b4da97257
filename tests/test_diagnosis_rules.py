"""The detection-rule language (conditions over facts), its checks when an article loads, and the ranking of
matches. Remedy actions are tested in test_diagnosis_actions.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vhdfix.diagnosis import diagnose, load_catalog
from vhdfix.diagnosis.catalog import Article, parse_article
from vhdfix.diagnosis.conditions import evaluate, validate
from vhdfix.errors import ArticleInvalid
from vhdfix.evidence.model import EvidenceSet


def holds(condition: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Whether ``condition``, checked to be well formed first, holds over ``facts``."""
    validate(condition, "test")
    return evaluate(condition, facts, {})


# --- the tests on one fact -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "facts", "expected"), [
    ({"fact": "a", "equals": 1}, {"a": 1}, True),
    ({"fact": "a", "equals": 1}, {"a": 2}, False),
    ({"fact": "a", "equals": 1}, {"a": "1"}, False),
    ({"fact": "a", "equals": "X"}, {"a": "x"}, False),  # strings compare exactly
    ({"fact": "a", "equals": False}, {}, False),  # a missing fact is None, which equals nothing TOML can write
    ({"fact": "a", "equals": ["x"]}, {"a": ["x"]}, True),
    ({"fact": "a", "in": ["x", "y"]}, {"a": "y"}, True),
    ({"fact": "a", "in": ["x", "y"]}, {"a": "z"}, False),
    ({"fact": "a", "in": ["x", "y"]}, {}, False),
    ({"fact": "a", "not_in": ["x", "y"]}, {"a": "z"}, True),
    ({"fact": "a", "not_in": ["x", "y"]}, {"a": "x"}, False),
    ({"fact": "a", "not_in": ["x", "y"]}, {}, True),  # None is in no list
    ({"fact": "a", "present": True}, {"a": 1}, True),
    ({"fact": "a", "present": True}, {"a": "x"}, True),
    ({"fact": "a", "present": True}, {"a": ["x"]}, True),
    ({"fact": "a", "present": True}, {"a": True}, True),
    ({"fact": "a", "present": True}, {}, False),
    ({"fact": "a", "present": True}, {"a": None}, False),
    ({"fact": "a", "present": True}, {"a": 0}, False),
    ({"fact": "a", "present": True}, {"a": ""}, False),
    ({"fact": "a", "present": True}, {"a": []}, False),
    ({"fact": "a", "present": True}, {"a": False}, False),
    ({"fact": "a", "present": False}, {}, True),
    ({"fact": "a", "present": False}, {"a": []}, True),
    ({"fact": "a", "present": False}, {"a": ["x"]}, False),
    ({"fact": "a", "gte": 2}, {"a": 2}, True),
    ({"fact": "a", "gte": 2}, {"a": 3}, True),
    ({"fact": "a", "gte": 2}, {"a": 1}, False),
    ({"fact": "a", "gte": 0}, {}, False),  # only numbers are compared
    ({"fact": "a", "gte": 0}, {"a": "5"}, False),
    ({"fact": "a", "gte": 0}, {"a": [1]}, False),
    ({"fact": "a", "lte": 2}, {"a": 2}, True),
    ({"fact": "a", "lte": 2}, {"a": -1}, True),
    ({"fact": "a", "lte": 2}, {"a": 3}, False),
    ({"fact": "a", "lte": 2}, {}, False),
    ({"fact": "a", "lte": 2}, {"a": "1"}, False),
    ({"fact": "a", "less_than": 1}, {"a": 0.99}, True),
    ({"fact": "a", "less_than": 1}, {"a": 1.0}, False),
    ({"fact": "a", "less_than": 1}, {"a": 1}, False),
    ({"fact": "a", "less_than": 10000}, {"a": 9600}, True),
    ({"fact": "a", "less_than": 1}, {}, False),  # an unknown value is not small
    ({"fact": "a", "less_than": 1}, {"a": "0"}, False),
    ({"fact": "a", "less_than": 2.5}, {"a": 2}, True),
    ({"fact": "a", "greater_than": 9599}, {"a": 9600}, True),
    ({"fact": "a", "greater_than": 9600}, {"a": 9600}, False),
    ({"fact": "a", "greater_than": 0}, {}, False),
    ({"fact": "a", "greater_than": 0.5}, {"a": [1]}, False),
    ({"fact": "a", "gte": 1.5}, {"a": 1.5}, True),
    ({"fact": "a", "lte": 1}, {"a": 0.5}, True),
    ({"fact": "a", "exists": True}, {"a": 0}, True),  # unlike present: 0 (safeboot Minimal) exists
    ({"fact": "a", "exists": True}, {"a": False}, True),
    ({"fact": "a", "exists": True}, {"a": ""}, True),
    ({"fact": "a", "exists": True}, {"a": None}, False),
    ({"fact": "a", "exists": True}, {}, False),
    ({"fact": "a", "exists": False}, {}, True),
    ({"fact": "a", "exists": False}, {"a": 0}, False),
    ({"fact": "a", "contains": "x"}, {"a": ["w", "x"]}, True),
    ({"fact": "a", "contains": "x"}, {"a": ["w", "xy"]}, False),  # list membership, not a substring of an item
    ({"fact": "a", "contains": "x"}, {"a": "wxy"}, True),  # in a string: a substring
    ({"fact": "a", "contains": "x"}, {"a": []}, False),
    ({"fact": "a", "contains": "x"}, {}, False),
    ({"fact": "a", "contains": 1}, {"a": 1}, False),
    ({"fact": "a", "matches": "(?i)windeploy"}, {"a": "oobe\\WinDeploy.exe"}, True),  # searched, not anchored
    ({"fact": "a", "matches": "^windeploy"}, {"a": "oobe\\windeploy.exe"}, False),
    ({"fact": "a", "matches": "1"}, {"a": 1}, False),  # only strings are searched
    ({"fact": "a", "matches": ".*"}, {}, False),
])
def test_each_test_on_a_fact(condition: dict[str, Any], facts: dict[str, Any], expected: bool) -> None:
    assert holds(condition, facts) is expected


@pytest.mark.parametrize(("condition", "value", "expected"), [
    ({"fact": "a", "equals": 1}, True, False),
    ({"fact": "a", "equals": True}, 1, False),
    ({"fact": "a", "equals": 0}, False, False),
    ({"fact": "a", "equals": True}, True, True),
    ({"fact": "a", "in": [1]}, True, False),
    ({"fact": "a", "not_in": [1]}, True, True),
    ({"fact": "a", "in": [True]}, True, True),
    ({"fact": "a", "contains": 1}, [True], False),
    ({"fact": "a", "contains": 1}, [1], True),
    ({"fact": "a", "contains": 1}, "1", False),
    ({"fact": "a", "gte": 1}, True, False),
    ({"fact": "a", "lte": 0}, False, False),
    ({"fact": "a", "less_than": 2}, True, False),
    ({"fact": "a", "greater_than": 0}, True, False),
    ({"fact": "a", "present": True}, 0, False),
    ({"fact": "a", "present": True}, b"", False),
    ({"fact": "a", "present": True}, b"\0", True),
])
def test_booleans_are_not_the_numbers_0_and_1(condition: dict[str, Any], value: object, expected: bool) -> None:
    """TOML's ``true`` is not a registry value's 1: a rule that mixes them up is a typo, which must not match."""
    assert holds(condition, {"a": value}) is expected


@pytest.mark.parametrize("condition", [
    {"fact": "a", "in": "C:\\unattend.xml"},
    {"fact": "a", "in": []},
    {"fact": "a", "not_in": [["x"]]},
    {"fact": "a", "gte": "1"},
    {"fact": "a", "lte": True},
    {"fact": "a", "less_than": "1"},
    {"fact": "a", "less_than": True},
    {"fact": "a", "less_than": float("nan")},
    {"fact": "a", "greater_than": float("inf")},
    {"fact": "a", "gte": float("-inf")},
    {"fact": "a", "greater_than": [1]},
    {"fact": "a", "exists": 1},
    {"fact": "a", "exists": "yes"},
    {"fact": "a", "matches": 1},
    {"fact": "a", "present": "yes"},
    {"fact": "a", "contains": ["x"]},
    {"fact": "a", "equals": {"x": 1}},
    {"fact": ["a"], "equals": 1},
    {"fact": "", "equals": 1},
])
def test_an_argument_of_the_wrong_type_is_refused_when_the_catalogue_loads(condition: dict[str, Any]) -> None:
    with pytest.raises(ArticleInvalid) as refused:
        validate(condition, "x.toml match[0]")
    assert refused.value.message.startswith("x.toml match[0]: ")


# --- combinations -------------------------------------------------------------------------------------------------

TRUE = {"fact": "t", "equals": 1}
FALSE = {"fact": "f", "equals": 1}
FACTS = {"t": 1, "f": 0}


@pytest.mark.parametrize(("condition", "expected"), [
    ({"all": [TRUE]}, True),
    ({"all": [TRUE, TRUE]}, True),
    ({"all": [TRUE, FALSE]}, False),
    ({"all": [FALSE, TRUE]}, False),
    ({"any": [FALSE]}, False),
    ({"any": [FALSE, TRUE]}, True),
    ({"any": [TRUE, FALSE]}, True),
    ({"any": [FALSE, FALSE]}, False),
    ({"not": TRUE}, False),
    ({"not": FALSE}, True),
    ({"not": {"not": TRUE}}, True),
    ({"all": [TRUE, {"any": [FALSE, {"not": FALSE}]}]}, True),
    ({"all": [TRUE, {"any": [FALSE, {"not": TRUE}]}]}, False),
    ({"not": {"all": [TRUE, FALSE]}}, True),
    ({"any": [{"all": [TRUE, FALSE]}, {"all": [{"not": FALSE}, TRUE]}]}, True),
])
def test_combinations(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition, FACTS) is expected


@pytest.mark.parametrize(("condition", "expected"), [
    ({"all": [{"fact": "a", "equals": 2}, {"fact": "b", "equals": 1}, {"fact": "c", "present": True}]}, False),
    ({"any": [{"fact": "a", "equals": 1}, {"fact": "b", "equals": 1}, {"fact": "c", "present": True}]}, True),
    ({"all": [{"fact": "a", "equals": 1},
              {"any": [{"fact": "b", "equals": 1}, {"not": {"fact": "c", "present": True}}]}]}, True),
])
def test_every_fact_of_a_condition_is_recorded_even_after_the_result_is_known(condition: dict[str, Any],
                                                                             expected: bool) -> None:
    """``all`` and ``any`` do not stop early, so a match shows every fact its rule names; a missing one as None."""
    tested: dict[str, Any] = {}
    assert evaluate(condition, {"a": 1, "b": 1}, tested) is expected
    assert tested == {"a": 1, "b": 1, "c": None}


# --- malformed conditions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "problem"), [
    ("setup.OOBEInProgress", "must be a table"),
    ([{"fact": "a", "equals": 1}], "must be a table"),
    ({"fact": "a", "equal": 1}, "expected"),  # unknown test
    ({"fact": "a", "equals": 1, "note": "x"}, "expected"),  # unknown key beside a test
    ({"fact": "a", "equals": 1, "in": [1]}, "expected"),  # two tests
    ({"fact": "a"}, "expected"),  # no test
    ({"equals": 1}, "expected"),  # no fact
    ({}, "expected"),
    ({"all": [TRUE], "fact": "a"}, "'all' cannot be mixed"),
    ({"all": [TRUE], "any": [TRUE]}, "cannot be mixed"),
    ({"not": TRUE, "equals": 1}, "'not' cannot be mixed"),
    ({"all": []}, "'all' needs a non-empty list"),
    ({"any": []}, "'any' needs a non-empty list"),
    ({"all": TRUE}, "'all' needs a non-empty list"),
    ({"not": [TRUE]}, "must be a table"),
    ({"fact": "a", "matches": "(unclosed"}, "bad regular expression"),
    ({"fact": "a", "matches": "*x"}, "bad regular expression"),
])
def test_malformed_conditions_are_refused(condition: object, problem: str) -> None:
    with pytest.raises(ArticleInvalid, match=problem) as refused:
        validate(condition, "x.toml match[0]")
    assert refused.value.message.startswith("x.toml match[0]")


@pytest.mark.parametrize(("condition", "where"), [
    ({"all": [TRUE, {"fact": "a"}]}, "t.all[1]"),
    ({"any": [TRUE, TRUE, {"all": [TRUE, {"nope": 1}]}]}, "t.any[2].all[1]"),
])
def test_a_malformed_inner_condition_is_refused_with_its_place(condition: object, where: str) -> None:
    with pytest.raises(ArticleInvalid) as refused:
        validate(condition, "t")
    assert refused.value.message.startswith(f"{where}:")


@pytest.mark.parametrize("test", ["equals", "in", "not_in", "present", "exists", "gte", "lte", "less_than",
                                  "greater_than", "contains", "matches"])
def test_each_test_is_accepted(test: str) -> None:
    value = {"in": ["x"], "not_in": ["x"], "present": True, "exists": True, "gte": 1, "lte": 1, "less_than": 0.5,
             "greater_than": 2}.get(test, "x")
    validate({"all": [{"fact": "a", test: value}, {"not": {"any": [{"fact": "b", test: value}]}}]}, "t")


# --- articles ------------------------------------------------------------------------------------------------------

ARTICLE = '''\
id = "OSStartUp-EXAMPLE"
kind = "article"
title = "Example"
sources = ["a source"]
summary = "What it is."
priority = 7

[[match]]
confidence = "high"
reason = "both facts"
all = [
    { fact = "a", equals = 1 },
    { not = { fact = "b", present = true } },
]

[[match]]
confidence = "low"
reason = "one fact"
any = [{ fact = "a", gte = 1 }]
'''


def test_a_well_formed_article() -> None:
    article = parse_article(ARTICLE, "example.toml")
    assert (article.id, article.kind, article.title, article.priority) == ("OSStartUp-EXAMPLE", "article", "Example", 7)
    assert article.sources == ("a source",) and article.path == "example.toml"
    assert [(rule.confidence, rule.reason) for rule in article.rules] == [("high", "both facts"), ("low", "one fact")]
    assert article.rules[0].condition == {"all": [{"fact": "a", "equals": 1},
                                                  {"not": {"fact": "b", "present": True}}]}
    assert article.rules[1].condition == {"any": [{"fact": "a", "gte": 1}]}


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('summary = "What it is."', 'summary = "unclosed', "not valid TOML"),
    ('kind = "article"\n', "", "'kind' is required"),
    ('kind = "article"', 'kind = "hint"', "kind must be one of article, state"),
    ('kind = "article"', "kind = 1", "'kind'"),
    ('id = "OSStartUp-EXAMPLE"\n', "", "'id' is required"),
    ('title = "Example"\n', "", "'title' is required"),
    ('sources = ["a source"]', 'sources = "a source"', "'sources'"),
    ('summary = "What it is."\n', "", "'summary' is required"),
    ('confidence = "high"', 'confidence = "certain"', r"match\[0\]: confidence must be one of"),
    ('confidence = "low"\n', "", r"match\[1\]: 'confidence' is required"),
    ('reason = "one fact"\n', "", r"match\[1\]: 'reason' is required"),
    ("any = [{ fact", "all = [{ fact = \"c\", equals = 1 }]\nany = [{ fact", r"match\[1\]: a match needs exactly one"),
    ('any = [{ fact = "a", gte = 1 }]', 'fact = "a"\ngte = 1', r"match\[1\]: a match needs exactly one"),
    ('any = [{ fact = "a", gte = 1 }]', "any = []", r"match\[1\]: 'any' needs a non-empty list"),
    ("{ fact = \"a\", equals = 1 }", "{ fact = \"a\", equals = 1, in = [1] }", r"match\[0\]\.all\[0\]: expected"),
    ('{ fact = "a", gte = 1 }', '{ fact = "a", matches = "[" }', "bad regular expression"),
    ('{ fact = "a", gte = 1 }', '{ fact = "a", less_than = nan }', "'less_than' needs a finite number"),
    ('{ fact = "a", gte = 1 }', '{ fact = "a", greater_than = "9600" }', "'greater_than' needs a finite number"),
    ('reason = "one fact"', 'reason = "one fact"\nscreen = "yes"', r"match\[1\]: 'screen' must be true or false"),
    ('reason = "one fact"', 'reason = "one fact"\nconfidance = "low"', r"match\[1\]: unknown key\(s\) confidance"),
    ('priority = 7', 'priority = 7\ndetection = "none: no signal"', "an article with 'match' rules has no 'detection'"),
    ('priority = 7', 'priority = 7\nplatform = "macos"', "platform must be one of windows, linux"),
    ('priority = 7', 'priority = 7\nscreen_variants = "Please wait"', "'screen_variants' must be a list"),
    ('priority = 7', 'priority = 7\nremedy_facts = ["dump.memory_dmp", ""]', "'remedy_facts' must be a list"),
])
def test_malformed_articles_are_refused(old: str, new: str, problem: str) -> None:
    assert old in ARTICLE
    with pytest.raises(ArticleInvalid, match=problem) as refused:
        parse_article(ARTICLE.replace(old, new, 1), "example.toml")
    assert refused.value.message.startswith("example.toml")


@pytest.mark.parametrize("match", ["", 'match = "all"\n', "match = { all = [] }\n", "match = []\n"])
def test_an_article_needs_a_list_of_match_rules(match: str) -> None:
    with pytest.raises(ArticleInvalid, match="'match'"):
        parse_article(ARTICLE.split("[[match]]")[0] + match, "example.toml")


@pytest.mark.parametrize("rule", ["1", '"all"', "[]"])
def test_a_match_rule_must_be_a_table(rule: str) -> None:
    with pytest.raises(ArticleInvalid, match=r"^example\.toml match\[0\]"):
        parse_article(ARTICLE.split("[[match]]")[0] + f"match = [{rule}]\n", "example.toml")


NO_RULES = ARTICLE.split("[[match]]")[0]


def test_an_article_without_rules_says_why() -> None:
    article = parse_article(NO_RULES + 'detection = "none: nothing on the disk shows it"\n', "quiet.toml")
    assert article.rules == () and article.detection == "none: nothing on the disk shows it"
    assert not article.detected and article.to_json()["detection"] == "none: nothing on the disk shows it"
    assert parse_article(ARTICLE, "example.toml").to_json()["detection"] == "rules"


@pytest.mark.parametrize("detection", ["", 'detection = "none: "\n', 'detection = "unknown"\n', "detection = 1\n"])
def test_an_article_without_rules_or_a_reason_is_refused(detection: str) -> None:
    with pytest.raises(ArticleInvalid, match="detection"):
        parse_article(NO_RULES + detection, "quiet.toml")


def test_a_state_needs_rules() -> None:
    text = NO_RULES.replace('kind = "article"', 'kind = "state"') + 'detection = "none: a state"\n'
    with pytest.raises(ArticleInvalid, match="a state needs 'match' rules"):
        parse_article(text, "state.toml")


def test_the_optional_keys_of_an_article() -> None:
    text = ARTICLE.replace("priority = 7", 'priority = 7\nplatform = "linux"\nscreen_variants = ["Other words"]\n'
                                           'remedy_facts = ["dump.memory_dmp"]')
    text = text.replace('reason = "one fact"', 'reason = "one fact"\nscreen = true')
    article = parse_article(text, "example.toml")
    assert (article.platform, article.screen_variants, article.remedy_facts) == ("linux", ("Other words",),
                                                                                 ("dump.memory_dmp",))
    assert [rule.needs_screen for rule in article.rules] == [False, True]
    assert article.evidence_facts == ("a", "b")


def test_a_rule_that_needs_the_screen_holds_only_when_the_screen_names_its_article() -> None:
    text = ARTICLE.replace('reason = "both facts"', 'reason = "both facts"\nscreen = true')
    text = text.replace("priority = 7", 'priority = 7\nscreen_text = "Example screen"')
    catalog = [parse_article(text, "example.toml")]
    facts = EvidenceSet(facts={"a": 1})
    assert [(m.confidence, m.reasons) for m in diagnose(catalog, facts).matches] == [("low", ("[low] one fact",))]
    named = diagnose(catalog, facts, "example screen").best
    assert (named.confidence, named.named_by_screen, named.disk_evidence) == ("high", True, True)


def test_a_catalogue_loads_every_article_of_its_folder(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.toml").write_text(ARTICLE.replace("OSStartUp-EXAMPLE", name), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not an article", encoding="utf-8")
    assert [(article.id, article.path) for article in load_catalog(tmp_path)] == [("one", "one.toml"),
                                                                                ("two", "two.toml")]


def test_the_catalogue_is_in_id_order_whatever_the_file_names(tmp_path: Path) -> None:
    for name, article_id in (("a", "Z-last"), ("b", "A-first")):
        (tmp_path / f"{name}.toml").write_text(ARTICLE.replace("OSStartUp-EXAMPLE", article_id), encoding="utf-8")
    assert [article.id for article in load_catalog(tmp_path)] == ["A-first", "Z-last"]


def test_an_id_defined_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "first.toml").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "second.toml").write_text(ARTICLE.replace('title = "Example"', 'title = "Again"'), encoding="utf-8")
    with pytest.raises(ArticleInvalid, match=r"^second\.toml: article id OSStartUp-EXAMPLE is defined twice"):
        load_catalog(tmp_path)


def test_a_bad_file_in_the_catalogue_is_named(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "bad.toml").write_text(ARTICLE.replace('"high"', '"certain"'), encoding="utf-8")
    with pytest.raises(ArticleInvalid, match=r"^bad\.toml match\[0\]: confidence"):
        load_catalog(tmp_path)


def test_the_bundled_catalogue_loads() -> None:
    catalog = load_catalog()
    assert catalog and all(bool(article.rules) != bool(article.detection) for article in catalog)
    assert {article.kind for article in catalog} == {"article", "state"}


# --- ranking -------------------------------------------------------------------------------------------------------


def article(article_id: str, *rules: tuple[str, str], kind: str = "article", priority: int = 0) -> Article:
    """An article whose rules are ``(confidence, fact)``: each rule holds when its fact equals 1."""
    text = f'id = "{article_id}"\nkind = "{kind}"\ntitle = "{article_id}"\nsources = []\nsummary = ""\n' \
           f"priority = {priority}\n"
    for confidence, fact in rules:
        text += f'[[match]]\nconfidence = "{confidence}"\nreason = "{fact}"\n' \
                f'all = [{{ fact = "{fact}", equals = 1 }}]\n'
    return parse_article(text, f"{article_id}.toml")


def ranked(catalog: list[Article], facts: dict[str, int]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(article id, confidence) of the matching articles and of the matching states, best first."""
    diagnosis = diagnose(catalog, EvidenceSet(facts=facts))
    return ([(match.article.id, match.confidence) for match in diagnosis.matches],
            [(match.article.id, match.confidence) for match in diagnosis.states])


def test_confidence_ranks_before_priority_and_priority_before_id() -> None:
    catalog = [article("b-low-top-priority", ("low", "x"), priority=100),
               article("d-high", ("high", "x"), priority=1),
               article("c-high", ("high", "x"), priority=1),
               article("a-high-low-priority", ("high", "x")),
               article("e-high-top-priority", ("high", "x"), priority=5),
               article("f-medium", ("medium", "x"), priority=50),
               article("never", ("high", "y"), priority=1000)]
    matches, states = ranked(catalog, {"x": 1, "y": 0})
    assert matches == [("e-high-top-priority", "high"), ("c-high", "high"), ("d-high", "high"),
                       ("a-high-low-priority", "high"), ("f-medium", "medium"), ("b-low-top-priority", "low")]
    assert states == []


def test_an_article_is_as_confident_as_its_strongest_matching_rule() -> None:
    two_rules = article("two-rules", ("low", "x"), ("medium", "y"), ("high", "z"))
    diagnosis = diagnose([two_rules], EvidenceSet(facts={"x": 1, "y": 1, "z": 0}))
    best = diagnosis.best
    assert best is not None and best.confidence == "medium"
    assert best.reasons == ("[low] x", "[medium] y")
    assert best.facts == {"x": 1, "y": 1}  # only the facts of the rules that matched
    assert ranked([two_rules, article("other", ("medium", "y"), priority=1)], {"x": 1, "y": 1, "z": 0})[0] == \
        [("other", "medium"), ("two-rules", "medium")]


def test_states_are_ranked_apart_from_articles() -> None:
    catalog = [article("healthy", ("medium", "x"), kind="state", priority=99),
               article("generalized", ("high", "x"), kind="state"),
               article("OSStartUp-A", ("low", "y"))]
    assert ranked(catalog, {"x": 1, "y": 1}) == ([("OSStartUp-A", "low")],
                                                 [("generalized", "high"), ("healthy", "medium")])
    with_article = diagnose(catalog, EvidenceSet(facts={"x": 1, "y": 1}))
    assert with_article.state == "article" and with_article.best.article.id == "OSStartUp-A"
    only_states = diagnose(catalog, EvidenceSet(facts={"x": 1, "y": 0}))
    assert only_states.state == "generalized" and only_states.best is None
    nothing = diagnose(catalog, EvidenceSet(facts={}))
    assert nothing.state == "unknown" and nothing.best is None and nothing.matches == nothing.states == []
