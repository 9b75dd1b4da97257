"""The short fuzz run of the normal test suite: every target, a fixed budget of structure-level mutations.

Each input must end in a result or one of vhdfix's error codes (never
``internal-error`` or an exception) within 2 s of CPU and 200 MB. The inputs
are derandomized, so a failure here reproduces; ``run_long.py`` explores.
``VHDFIX_FUZZ_EXAMPLES`` changes the number of inputs per target.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.checks import Workspace, judge
from tests.fuzz.model import FuzzInput, Seed, mutate
from tests.fuzz.seeds import realdata_root
from tests.fuzz.targets import TARGETS
from vhdfix.errors import InternalError, VhdfixError

EXAMPLES = int(os.environ.get("VHDFIX_FUZZ_EXAMPLES", "200"))


class FuzzState:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.workspace = Workspace(root / "work")
        self._seeds: dict[str, list[Seed]] = {}

    def seeds(self, target: str) -> list[Seed]:
        if target not in self._seeds:
            folder = self.root / f"seeds-{target}"
            folder.mkdir()
            self._seeds[target] = TARGETS[target].seeds(folder, realdata_root())
        return self._seeds[target]


@pytest.fixture(scope="session")
def fuzz_state(tmp_path_factory: pytest.TempPathFactory) -> FuzzState:
    return FuzzState(tmp_path_factory.mktemp("fuzz"))


@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_mutated_inputs_end_in_a_result_or_an_error_code(target: str, rng: random.Random,
                                                        fuzz_state: FuzzState) -> None:
    seeds = fuzz_state.seeds(target)
    if not seeds:
        pytest.skip(f"target {target} has seeds only in VHDFIX_REALDATA")
    seed = rng.choice(seeds)
    item = mutate(seed, rng)
    outcome = judge(target, seed, item, fuzz_state.workspace, TARGETS[target].run)
    assert not outcome.finding, f"{seed.name} {item.notes}: {outcome.problem}"


def test_the_judge_measures_memory_and_flags_each_kind_of_finding(fuzz_state: FuzzState) -> None:
    seed = Seed("judge/raw", {"disk.img": bytes(4096)}, "disk.img", [])
    item = FuzzInput(seed.name)

    def allocate(path: Path) -> None:
        block = bytearray(256 * 2**20)
        block[::4096] = b"\x01" * len(block[::4096])

    def fail(path: Path) -> None:
        raise KeyError("a defect")

    def internal(path: Path) -> VhdfixError:
        return InternalError("unexpected")

    judged = {run.__name__: judge("judge", seed, item, fuzz_state.workspace, run) for run in (allocate, fail, internal)}
    assert judged["allocate"].peak >= 250 * 2**20 and judged["allocate"].problem.startswith("peak memory")
    assert judged["fail"].problem.startswith("raised KeyError")
    assert judged["internal"].problem == "internal-error: unexpected"
