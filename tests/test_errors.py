"""The error hierarchy: stable codes, the tree in the module docstring, and the one translator of foreign errors."""

from __future__ import annotations

import errno
import re

import pytest

from vhdfix import errors
from vhdfix.errors import (
    MESSAGE_LIMIT,
    CorruptVolume,
    HiveCorrupt,
    InputError,
    InputUnreadable,
    InternalError,
    NotADiskImage,
    RefusedUnsafe,
    TimeBudgetExceeded,
    VhdfixError,
    foreign_errors,
)

ALL_ERRORS = [value for value in vars(errors).values()
              if isinstance(value, type) and issubclass(value, VhdfixError)]


def test_every_error_has_its_own_code() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes)) and all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code) for code in codes)


def test_the_docstring_draws_every_error() -> None:
    drawn = set(re.findall(r"\b([A-Z][A-Za-z]+)\b", errors.__doc__ or ""))
    assert {error.__name__ for error in ALL_ERRORS if error.__bases__[0] is not RefusedUnsafe} <= drawn


def test_the_time_budget_is_not_an_input_error() -> None:
    """Code that turns a damaged file into a warning catches InputError; the budget must end the whole disk."""
    assert not issubclass(TimeBudgetExceeded, InputError) and issubclass(CorruptVolume, InputError)
    with pytest.raises(TimeBudgetExceeded):
        try:
            raise TimeBudgetExceeded("out of time")
        except InputError:
            pytest.fail("caught as a damaged input")


def test_our_errors_pass_through_unchanged() -> None:
    raised = HiveCorrupt("SYSTEM: bad cell")
    with pytest.raises(HiveCorrupt) as caught, foreign_errors(CorruptVolume, "reading"):
        raise raised
    assert caught.value is raised


@pytest.mark.parametrize(("foreign", "message"), [
    (ValueError("bad runlist"), "C:: reading x: ValueError: bad runlist"),
    (EOFError(), "C:: reading x: EOFError"),
    (RecursionError("maximum recursion depth exceeded"), "C:: reading x: structure nests too deeply"),
    (OSError(errno.EIO, "Input/output error"), "C:: reading x: Input/output error"),
    (OSError("no errno"), "C:: reading x: OSError: no errno"),
])
def test_a_foreign_exception_becomes_ours_with_a_one_line_message(foreign: Exception, message: str) -> None:
    with pytest.raises(CorruptVolume) as caught, foreign_errors(CorruptVolume, "C:: reading x"):
        raise foreign
    assert caught.value.message == message and caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_long_or_multi_line_cause_is_cut_to_one_short_line() -> None:
    with pytest.raises(InternalError) as caught, foreign_errors(InternalError, "x"):
        raise KeyError("a\nb " * 500)
    assert len(caught.value.message) <= MESSAGE_LIMIT and "\n" not in caught.value.message


def test_only_the_named_foreign_exceptions_are_translated() -> None:
    with pytest.raises(ValueError), foreign_errors(NotADiskImage, "x.vhd", foreign=RecursionError):
        raise ValueError("a defect of ours: not to be reported as a bad disk")
    with pytest.raises(InputUnreadable, match=r"x\.vhd: read error at 0: Input/output error"), \
            foreign_errors(InputUnreadable, "x.vhd: read error at 0", foreign=OSError):
        raise OSError(errno.EIO, "Input/output error")


def test_interrupts_are_never_translated() -> None:
    with pytest.raises(KeyboardInterrupt), foreign_errors(InternalError, "x"):
        raise KeyboardInterrupt
