"""Benchmark (issue 6): the copy engine of ``vhdfix repair`` beside ``qemu-img convert`` and ``cp --sparse=always``.

Inputs: the 127 GiB sparse dynamic VHD and VHDX of bench_open.py, and a 4 GiB
disk holding 2 GiB of random data (raw, dynamic VHD, dynamic VHDX), all
cached in benchmarks/out/. Each tool copies each input to the same format.

vhdfix fsyncs its output before renaming it into place; qemu-img convert and
cp do not. So each of their runs is followed by ``sync FILE`` and the ratios
compare durable copies; their times without the sync are printed too. Times
are wall-clock for the whole process (vhdfix includes Python's start and
imports), the best of several runs (other work on the machine only ever slows
a run down); in brackets, vhdfix's ``copy_disk`` alone (in the process, from
the first read to the rename). Targets: vhdfix / qemu-img <= 1.0, peak memory
<= 150 MB, output allocated size <= the input's.
Run: python benchmarks/bench_repair.py [--runs N]
Needs: qemu-img, coreutils; building the 127 GiB disks also needs what large_disk.py needs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_open import populate
from large_disk import GIB, MIB, OUT, build_all

QEMU_FORMAT = {"raw": "raw", "vhd": "vpc", "vhdx": "vhdx"}
QEMU_OPTIONS = {"raw": [], "vhd": ["-o", "subformat=dynamic,force_size=on"], "vhdx": ["-o", "subformat=dynamic"]}
RANDOM_SIZE = 4 * GIB
RANDOM_RUN = 64 * MIB  # 64 MiB of random data, then 64 MiB of nothing, across the disk: 2 GiB of data

CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
from vhdfix.copy import copy_disk
from vhdfix.disk import open_disk
source = open_disk(sys.argv[1])
result = copy_disk(source, sys.argv[2], "same")
print(json.dumps({"seconds": time.perf_counter() - start, "copy_seconds": result.seconds,
                  "bytes_read": result.bytes_read, "allocated": result.allocated,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_random_disk() -> dict[str, Path]:
    """4 GiB disks holding 2 GiB of random data, as raw, dynamic VHD and dynamic VHDX."""
    OUT.mkdir(exist_ok=True)
    paths = {kind: OUT / f"random-4g.{kind}" for kind in QEMU_FORMAT}
    if not paths["raw"].exists():
        partial = paths["raw"].with_suffix(".partial")
        rng = random.Random(6)
        with open(partial, "wb") as f:
            f.truncate(RANDOM_SIZE)
            for start in range(0, RANDOM_SIZE, 2 * RANDOM_RUN):
                f.seek(start)
                for _ in range(RANDOM_RUN // MIB):
                    f.write(rng.randbytes(MIB))
        partial.rename(paths["raw"])
    for kind in ("vhd", "vhdx"):
        if not paths[kind].exists():
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", QEMU_FORMAT[kind], *QEMU_OPTIONS[kind],
                            str(paths["raw"]), str(paths[kind])], check=True)
    return paths


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@dataclass
class Runs:
    plain: list[float]
    durable: list[float]
    allocated: int = 0


def run_tool(tool: str, kind: str, source: Path, target: Path) -> tuple[float, float, dict[str, float]]:
    """(seconds without a final sync, seconds to a durable copy, details) of one copy; ``target`` is removed."""
    subprocess.run(["sync"], check=True)  # start every run without the previous run's dirty pages
    details: dict[str, float] = {}
    if tool == "vhdfix":
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(target)], check=True,
                              capture_output=True, text=True)
        plain = durable = time.perf_counter() - start
        details = json.loads(done.stdout)
    else:
        if tool == "qemu-img":
            command = ["qemu-img", "convert", "-f", QEMU_FORMAT[kind], "-O", QEMU_FORMAT[kind], *QEMU_OPTIONS[kind],
                       str(source), str(target)]
        else:
            command = ["cp", "--sparse=always", str(source), str(target)]
        plain = timed(command)
        durable = plain + timed(["sync", str(target)])
    details["allocated"] = allocated(target)
    target.unlink()
    return plain, durable, details


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    large = build_all("windows-127g", populate)
    small = build_random_disk()
    inputs = [("127 GiB VHD", "vhd", large["vhd"]), ("127 GiB VHDX", "vhdx", large["vhdx"]),
              ("4 GiB raw, 2 GiB random", "raw", small["raw"]), ("4 GiB VHD, 2 GiB random", "vhd", small["vhd"]),
              ("4 GiB VHDX, 2 GiB random", "vhdx", small["vhdx"])]
    tools = ("vhdfix", "qemu-img", "cp")
    print(f"{'input':26} {'vhdfix s':>16} {'qemu s':>13} {'cp s':>13} {'/qemu':>11} {'/cp':>6} {'peak MB':>8} "
          f"{'in MiB':>8} {'out MiB':>8} {'qemu out':>9}")
    print(f"{'':26} {'(copy_disk)':>16} {'(no sync)':>13} {'(no sync)':>13} {'(copy_disk)':>11}")
    failed = False
    with tempfile.TemporaryDirectory(dir=OUT) as work:
        for label, kind, source in inputs:
            results = {tool: Runs([], []) for tool in tools}
            peaks, engine = [], []
            for _ in range(runs):
                for tool in tools:
                    plain, durable, details = run_tool(tool, kind, source, Path(work) / f"out.{kind}")
                    results[tool].plain.append(plain)
                    results[tool].durable.append(durable)
                    results[tool].allocated = int(details["allocated"])
                    if tool == "vhdfix":
                        peaks.append(details["peak_rss_mb"])
                        engine.append(details["copy_seconds"])
            ours, copy = min(results["vhdfix"].durable), min(engine)
            qemu, qemu_plain = min(results["qemu-img"].durable), min(results["qemu-img"].plain)
            cp, cp_plain = min(results["cp"].durable), min(results["cp"].plain)
            peak = max(peaks)
            in_mib = allocated(source) / MIB
            out_mib = results["vhdfix"].allocated / MIB
            print(f"{label:26} {ours:6.2f} ({copy:6.3f}) {qemu:6.2f} ({qemu_plain:4.2f}) {cp:6.2f} ({cp_plain:4.2f}) "
                  f"{ours / qemu:4.2f} ({copy / qemu:4.2f}) {ours / cp:6.2f} {peak:8.1f} {in_mib:8.1f} "
                  f"{out_mib:8.1f} {results['qemu-img'].allocated / MIB:9.1f}")
            failed |= ours / qemu > 1.0 or peak > 150 or out_mib > in_mib
    print(f"targets: vhdfix / qemu-img <= 1.0, peak <= 150 MB, out <= in; best of {runs} runs; "
          f"{shutil.which('qemu-img')}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
