"""The detection-rule language of ``articles/*.toml``: conditions over evidence facts.

A condition is a table with a ``fact`` and one test::

    { fact = "setup.OOBEInProgress", equals = 1 }
    { fact = "image_state", in = ["IMAGE_STATE_UNDEPLOYABLE", "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE"] }
    { fact = "answer_files.custom", present = true }      # not None, not false, not empty
    { fact = "logs.panther_setuperr", gte = 1 }
    { fact = "volume.free_percent", less_than = 1 }      # also greater_than; numbers may be fractions
    { fact = "bcd.safeboot", exists = true }             # not None: unlike present, 0 and false exist
    { fact = "logs.patterns", contains = "sysprep-rearm-limit" }
    { fact = "setup.CmdLine", matches = "(?i)windeploy" }

or a combination: ``{ all = [...] }``, ``{ any = [...] }``, ``{ not = {...} }``.

A boolean only ever equals a boolean (``true`` is not the number 1 of a registry value), and each test's
argument is checked when the catalogue loads, so that a typo is refused instead of never matching.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from vhdfix.errors import ArticleInvalid


def _same(value: Any, expected: Any) -> bool:
    """Equal, and a bool only ever equals a bool: ``true`` in a rule is not the number 1 of a registry value."""
    return value == expected and isinstance(value, bool) is isinstance(expected, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_number(value: Any) -> bool:
    """A rule's threshold: TOML's nan and inf would make a comparison that never, or always, holds."""
    return _number(value) and math.isfinite(value)


TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _same,
    "in": lambda value, expected: any(_same(value, item) for item in expected),
    "not_in": lambda value, expected: not any(_same(value, item) for item in expected),
    "present": lambda value, expected: bool(value) == expected,  # not None, false, 0 or empty
    "gte": lambda value, expected: _number(value) and value >= expected,
    "lte": lambda value, expected: _number(value) and value <= expected,
    "less_than": lambda value, expected: _number(value) and value < expected,
    "greater_than": lambda value, expected: _number(value) and value > expected,
    "exists": lambda value, expected: (value is not None) == expected,
    "contains": lambda value, expected: any(_same(item, expected) for item in value) if isinstance(value, list)
    else isinstance(value, str) and isinstance(expected, str) and expected in value,
    "matches": lambda value, expected: isinstance(value, str) and re.search(expected, value) is not None,
}
_SCALAR = (str, int)  # bool is an int
# What each test's argument must be, so that a typo in an article is refused when the catalogue loads.
ARGUMENTS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "equals": ("a string, number, boolean or list", lambda arg: isinstance(arg, (*_SCALAR, list))),
    "in": ("a non-empty list of strings, numbers or booleans",
           lambda arg: isinstance(arg, list) and bool(arg) and all(isinstance(item, _SCALAR) for item in arg)),
    "present": ("true or false", lambda arg: isinstance(arg, bool)),
    "gte": ("a finite number", _finite_number),
    "lte": ("a finite number", _finite_number),
    "less_than": ("a finite number", _finite_number),
    "greater_than": ("a finite number", _finite_number),
    "exists": ("true or false", lambda arg: isinstance(arg, bool)),
    "contains": ("a string, number or boolean", lambda arg: isinstance(arg, _SCALAR)),
    "matches": ("a regular expression", lambda arg: isinstance(arg, str)),
}
ARGUMENTS["not_in"] = ARGUMENTS["in"]
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
    if not isinstance(condition.get("fact"), str) or not condition["fact"] or len(tests) != 1 or unknown:
        raise ArticleInvalid(f"{where}: expected {{ fact = ..., <one of {', '.join(TESTS)}> = ... }}, "
                             f"got {dict(condition)!r}")
    described, accepts = ARGUMENTS[tests[0]]
    if not accepts(condition[tests[0]]):
        raise ArticleInvalid(f"{where}: '{tests[0]}' needs {described}, not {condition[tests[0]]!r}")
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


def condition_facts(condition: Mapping[str, Any]) -> Iterator[str]:
    """Every fact a (validated) condition names, through ``all``, ``any`` and ``not`` at any depth."""
    for combinator in ("all", "any"):
        for item in condition.get(combinator, []):
            yield from condition_facts(item)
    if "not" in condition:
        yield from condition_facts(condition["not"])
    if "fact" in condition:
        yield condition["fact"]
