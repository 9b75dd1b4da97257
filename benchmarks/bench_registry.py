"""Benchmark: recover + open the 12 MiB SYSTEM_B hive with its 24 HvLE entries, then 20 value lookups.

Usage: VHDFIX_REALDATA=/path/to/realdata python benchmarks/bench_registry.py [--repeat N]

Targets (issue 3): recovery + parsing < 150 ms, 20 lookups < 5 ms; with the compiled
Marvin32 (issue 11): recovery + parsing < 60 ms. Each figure is the median of --repeat
runs; decompressing the test files is not timed. Both Marvin32 implementations are
timed when the extension is built; recovery uses the one vhdfix uses (set
VHDFIX_PURE_PYTHON=1 to time recovery on the pure-Python path).
"""

from __future__ import annotations

import argparse
import lzma
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vhdfix.registry.hive import open_hive
from vhdfix.registry.hvle import scan_entries
from vhdfix.registry.marvin32 import IMPLEMENTATION, marvin32_native, marvin32_python
from vhdfix.registry.recovery import recover

DATA = "mkorman90+regipy/regipy_tests/data"
LOOKUPS = [
    ("Select", "Current"),
    ("CurrentControlSet\\Control\\ComputerName\\ComputerName", "ComputerName"),
    ("Setup", "SystemSetupInProgress"),
    ("Setup", "SetupType"),
    ("Setup", "CmdLine"),
    ("Setup", "OOBEInProgress"),
    ("Setup", "SetupPhase"),
    ("Setup", "RestartSetup"),
    ("CurrentControlSet\\Control", "SystemStartOptions"),
    ("CurrentControlSet\\Control\\Session Manager", "BootExecute"),
    ("CurrentControlSet\\Control\\Session Manager", "PendingFileRenameOperations"),
    ("CurrentControlSet\\Control\\CrashControl", "CrashDumpEnabled"),
    ("CurrentControlSet\\Control\\Terminal Server", "fDenyTSConnections"),
    ("CurrentControlSet\\Control\\Windows", "ShutdownTime"),
    ("CurrentControlSet\\Services\\RdAgent", "Start"),
    ("CurrentControlSet\\Services\\WindowsAzureGuestAgent", "Start"),
    ("CurrentControlSet\\Services\\TermService", "Start"),
    ("CurrentControlSet\\Services\\Tcpip\\Parameters", "Hostname"),
    ("CurrentControlSet\\Services\\BFE", "Start"),
    ("CurrentControlSet\\Services\\mpssvc", "Start"),
]


def median_ms(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = os.environ.get("VHDFIX_REALDATA")
    if not root:
        print("set VHDFIX_REALDATA to the realdata folder", file=sys.stderr)
        return 2
    folder = Path(root) / DATA
    primary = lzma.decompress((folder / "SYSTEM_B.xz").read_bytes())
    logs = [(name, lzma.decompress((folder / f"{name}.xz").read_bytes()))
            for name in ("SYSTEM_B.LOG1", "SYSTEM_B.LOG2")]

    hashed = sum(entry.size for _, log in logs for entry in scan_entries(log).entries)
    sample = logs[1][1][512:512 + hashed // 2]
    implementations = {"pure Python": marvin32_python, "compiled": marvin32_native}
    speeds = {name: len(sample) / 2**20 / (median_ms(lambda f=function: f(sample), args.repeat) / 1000)
              for name, function in implementations.items() if function is not None}

    result = recover(primary, logs)
    recover_ms = median_ms(lambda: recover(primary, logs), args.repeat)
    open_ms = median_ms(lambda: open_hive("SYSTEM", primary, logs), args.repeat)
    parse_ms = median_ms(lambda: open_hive("SYSTEM", result.data), args.repeat)

    def cold_lookups() -> float:
        hive = open_hive("SYSTEM", result.data)
        start = time.perf_counter()
        for path, name in LOOKUPS:
            hive.value(path, name)
        return (time.perf_counter() - start) * 1000

    cold_ms = statistics.median(cold_lookups() for _ in range(args.repeat))
    warm_hive = open_hive("SYSTEM", result.data)
    found = sum(warm_hive.value(path, name) is not None for path, name in LOOKUPS)
    warm_ms = median_ms(lambda: [warm_hive.value(path, name) for path, name in LOOKUPS], args.repeat)

    print(f"SYSTEM_B: {len(primary) / 2**20:.1f} MiB hive, {result.entries_applied} log entries applied, "
          f"{hashed / 2**20:.2f} MiB of log entries hashed (Marvin32)")
    for name, speed in speeds.items():
        print(f"  Marvin32, {name + ':':<26}{speed:8.1f} MiB/s")
    in_use = "compiled" if IMPLEMENTATION == "native" else "pure Python"
    missing = "" if marvin32_native else " (the extension is not built)"
    print(f"  recovery below uses the {in_use} Marvin32{missing}")
    print(f"  recover()                           {recover_ms:8.1f} ms")
    print(f"  open_hive() = recover + parse       {open_ms:8.1f} ms   (target < 150 ms; compiled: < 60 ms)")
    print(f"  open_hive() of the recovered image  {parse_ms:8.1f} ms   (base block and root key checks)")
    print(f"  {len(LOOKUPS)} value lookups, fresh hive       {cold_ms:8.2f} ms   (target < 5 ms; {found} found)")
    print(f"  {len(LOOKUPS)} value lookups, repeated         {warm_ms:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
