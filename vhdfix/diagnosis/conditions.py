"""The detection-rule language of ``articles/*.toml``: conditions over evidence facts.

A condition is a table with a ``fact`` and one test::

    { fact = "setup.OOBEInProgress", equals = 1 }
    { fact = "image_state", in = ["IMAGE_STATE_UNDEPLOYABLE", "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE"] }
    { fact = "answer_files.custom", present = true }      # not None, not false, not empty
    { fact = "logs.panther_setuperr", gte = 1 }
    { fact = "logs.patterns", contains = "sysprep-rearm-limit" }
    { fact = "setup.CmdLine", matches = "(?i)windeploy" }

or a combination: ``{ all = [...] }``, ``{ any = [...] }``, ``{ not = {...} }``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from vhdfix.errors import ArticleInvalid

TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda value, expected: value == expected,
    "in": lambda value, expected: value in expected,
    "not_in": lambda value, expected: value not in expected,
    "present": lambda value, expected: (value not in (None, False, "", [], 0)) == expected,
    "gte": lambda value, expected: isinstance(value, int) and value >= expected,
    "lte": lambda value, expected: isinstance(value, int) and value <= expected,
    "contains": lambda value, expected: isinstance(value, (list, str)) and expected in value,
    "matches": lambda value, expected: isinstance(value, str) and re.search(expected, value) is not None,
}
COMBINATORS = ("all", "any", "not")


def validate(condition: object, where: str) -> None:
    """Raise ArticleInvalid unless ``condition`` is well formed."""
    if not isinstance(condition, Mapping):
        raise ArticleInvalid(f"{where}: a condition must be a table, not {condition!r}")
    combinators = [key for key in COMBINATORS if key in condition]
    if combinators:
        if len(condition) != 1:
            raise ArticleInvalid(f"{where}: '{combinators[0]}' cannot be mixed with other keys")
        inner = condition[combinators[0]]
        if combinators[0] == "not":
            validate(inner, where)
        elif not isinstance(inner, list) or not inner:
            raise ArticleInvalid(f"{where}: '{combinators[0]}' needs a non-empty list")
        else:
            for index, item in enumerate(inner):
                validate(item, f"{where}.{combinators[0]}[{index}]")
        return
    tests = [key for key in condition if key in TESTS]
    unknown = set(condition) - set(TESTS) - {"fact"}
    if "fact" not in condition or len(tests) != 1 or unknown:
        raise ArticleInvalid(f"{where}: expected {{ fact = ..., <one of {', '.join(TESTS)}> = ... }}, "
                             f"got {dict(condition)!r}")
    if tests[0] == "matches":
        try:
            re.compile(condition["matches"])
        except re.error as exc:
            raise ArticleInvalid(f"{where}: bad regular expression: {exc}") from None


def evaluate(condition: Mapping[str, Any], facts: Mapping[str, Any], tested: dict[str, Any]) -> bool:
    """Whether ``condition`` holds; every fact it looked at is recorded in ``tested``."""
    if "all" in condition:
        return all([evaluate(item, facts, tested) for item in condition["all"]])
    if "any" in condition:
        return any([evaluate(item, facts, tested) for item in condition["any"]])
    if "not" in condition:
        return not evaluate(condition["not"], facts, tested)
    fact = condition["fact"]
    value = facts.get(fact)
    tested[fact] = value
    test = next(key for key in condition if key in TESTS)
    return TESTS[test](value, condition[test])
