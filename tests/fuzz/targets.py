"""The fuzz targets: which seeds each mutates, and how an input is run.

Disk targets run the whole of ``inspect`` on the mutated image, as a repair
job would. The ``hive`` target runs the registry layer alone on real hives and
their transaction logs (too large for the sample disks): recovery, the hive
reader and every lookup ``inspect`` makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.checks import FUZZ_TIME_BUDGET
from tests.fuzz.model import Seed
from tests.fuzz.seeds import SEED_SETS
from vhdfix.budget import time_budget
from vhdfix.diagnosis import load_catalog
from vhdfix.errors import VhdfixError
from vhdfix.evidence.locations import CBS_PACKAGES, MAX_CBS_PACKAGES, SOFTWARE_VALUES, SQL_INSTANCES, SYSTEM_VALUES
from vhdfix.inspection import inspect
from vhdfix.registry import open_hive
from vhdfix.windows.bcd import BOOTMGR, DEFAULT_OBJECT, SAFEBOOT, bcd_element
from vhdfix.windows.event_log import read_events

CATALOG = load_catalog()


def run_inspect(path: Path) -> VhdfixError | None:
    return inspect(path, catalog=CATALOG, budget_seconds=FUZZ_TIME_BUDGET).error


def run_hive(path: Path) -> VhdfixError | None:
    """What ``inspect`` does with one hive: recover and open it, then every value and key lookup."""
    logs = [(log.name, log.read_bytes()) for log in sorted(path.parent.glob(path.name + ".LOG*"))]
    try:
        with time_budget(FUZZ_TIME_BUDGET, f"hive {path.name}"):
            hive = open_hive(path.name, path.read_bytes(), logs)
            for _, key, name in SYSTEM_VALUES + SOFTWARE_VALUES:
                hive.value(key, name)
                hive.key(key)
                hive.subkeys(key)
            hive.subkey_values(CBS_PACKAGES, "CurrentState", MAX_CBS_PACKAGES + 1)
            hive.values(SQL_INSTANCES)
            loader = bcd_element(hive, BOOTMGR, DEFAULT_OBJECT)  # what inspect reads of a BCD store
            if isinstance(loader, str):
                bcd_element(hive, loader, SAFEBOOT)
            _ = hive.warnings, hive.state, hive.current_control_set
    except VhdfixError as exc:
        return exc
    return None


def run_evtx(path: Path) -> VhdfixError | None:
    """What ``inspect`` does with Setup.evtx: every record of its well-formed chunks."""
    try:
        with time_budget(FUZZ_TIME_BUDGET, f"event log {path.name}"):
            read_events(path.read_bytes(), path.name)
    except VhdfixError as exc:
        return exc
    return None


@dataclass(frozen=True)
class Target:
    name: str
    seeds: Callable[[Path, Path | None], list[Seed]]
    run: Callable[[Path], VhdfixError | None]
    share: float  # of a long run's inputs; the fast hive target takes more


TARGETS = {
    "vhd": Target("vhd", SEED_SETS["vhd"], run_inspect, 0.14),
    "vhdx": Target("vhdx", SEED_SETS["vhdx"], run_inspect, 0.14),
    "dissect-formats": Target("dissect-formats", SEED_SETS["dissect-formats"], run_inspect, 0.04),
    "partitions": Target("partitions", SEED_SETS["partitions"], run_inspect, 0.12),
    "ntfs": Target("ntfs", SEED_SETS["ntfs"], run_inspect, 0.14),
    "registry": Target("registry", SEED_SETS["registry"], run_inspect, 0.1),
    "hive": Target("hive", SEED_SETS["hive"], run_hive, 0.14),
    "archives": Target("archives", SEED_SETS["archives"], run_inspect, 0.04),
    "fat": Target("fat", SEED_SETS["fat"], run_inspect, 0.06),
    "linux": Target("linux", SEED_SETS["linux"], run_inspect, 0.02),
    "evtx": Target("evtx", SEED_SETS["evtx"], run_evtx, 0.06),
}
