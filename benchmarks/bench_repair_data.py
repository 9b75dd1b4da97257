"""Benchmark (issue 15): ``vhdfix repair`` on a disk that holds real amounts of data, beside ``qemu-img convert``.

The disk: an 8 GiB dynamic VHDX (GPT, Windows volume) with the provisioning-agent sample's Windows tree plus
300 files of 10 MB of random data (2.9 GiB, incompressible), built once into benchmarks/out/ (not committed).
For each output format, ``vhdfix repair DISK --output OUT --format F --json`` (diagnosis, plan, copy and
verification, as a user runs it) and ``qemu-img convert`` of the same disk to the same format run alternately,
each from a synced page cache. vhdfix fsyncs its output before naming it; qemu-img does not, so each qemu-img run
is followed by ``sync FILE`` and the ratio compares durable copies (qemu-img's time without the sync in brackets).
Times are the best of N runs: other work on the machine only slows a run down. The phase split is vhdfix's own
``phases`` of the best run. Peak memory is the vhdfix process's maximum resident set (wait4).

Targets: vhdfix / qemu-img <= 1.0 for every format (goal 0.8), verification <= 35% of vhdfix's total, peak
memory <= 100 MB. Outputs are deleted after each run.
Run: python benchmarks/bench_repair_data.py [--runs N] [--formats same,vhd-fixed,vhdx,raw]
Needs: qemu-img, and what large_disk.py needs to build the disk (sfdisk, mkntfs, ntfs-3g, root for FUSE).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "fixtures")]

from bench_inspect import populate as populate_windows  # noqa: E402
from large_disk import GIB, OUT, build_all  # noqa: E402

DISK_SIZE = 8 * GIB
DATA_FILES, DATA_FILE_SIZE = 300, 10 * 1000 * 1000
FORMATS = ("same", "vhd-fixed", "vhdx", "raw")
SUFFIX = {"same": ".vhdx", "vhd-fixed": ".vhd", "vhdx": ".vhdx", "raw": ".raw"}
QEMU = {"same": ["-O", "vhdx", "-o", "subformat=dynamic"], "vhd-fixed": ["-O", "vpc", "-o", "subformat=fixed"],
        "vhdx": ["-O", "vhdx", "-o", "subformat=dynamic"], "raw": ["-O", "raw"]}


def populate(root: Path) -> None:
    """The provisioning-agent Windows tree, and 300 files of 10 MB of random bytes under Users\\Data."""
    populate_windows(root)
    data = root / "Users" / "Data"
    data.mkdir(parents=True, exist_ok=True)
    for index in range(DATA_FILES):
        (data / f"file-{index:03}.bin").write_bytes(os.urandom(DATA_FILE_SIZE))


def run_vhdfix(disk: Path, out: Path, fmt: str) -> tuple[float, dict[str, object], float]:
    """(wall seconds, the --json result, peak resident MB) of one ``vhdfix repair``."""
    command = [sys.executable, "-m", "vhdfix", "repair", str(disk), "--output", str(out), "--format", fmt, "--json"]
    # with its bytecode cached, as an installed vhdfix runs (an environment may turn the cache off)
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
    assert child.stdout is not None
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(stdout)
    if child.returncode != 0:
        raise SystemExit(f"vhdfix repair failed ({child.returncode}): {result.get('message')}")
    return seconds, result, usage.ru_maxrss / 1024


def run_qemu(disk: Path, out: Path, fmt: str) -> tuple[float, float]:
    """(seconds to a durable copy, seconds without the final sync) of one ``qemu-img convert``."""
    start = time.perf_counter()
    subprocess.run(["qemu-img", "convert", "-f", "vhdx", *QEMU[fmt], str(disk), str(out)], check=True)
    plain = time.perf_counter() - start
    subprocess.run(["sync", str(out)], check=True)
    return time.perf_counter() - start, plain


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    disk = build_all("data-3g-8g", populate, DISK_SIZE)["vhdx"]
    print(f"disk: {disk.name}, {disk.stat().st_size / GIB:.2f} GiB file, {DISK_SIZE // GIB} GiB virtual; "
          f"best of {args.runs} alternating runs")
    print(f"{'format':10} {'vhdfix s':>8} {'qemu s':>14} {'ratio':>6} {'diag':>6} {'plan':>6} {'copy':>6} "
          f"{'verify':>6} {'verify%':>7} {'peak MB':>7} {'read GiB':>8} {'written GiB':>11} {'re-read GiB':>11}")
    failed = False
    with tempfile.TemporaryDirectory(dir=OUT) as work:
        for fmt in args.formats.split(","):
            out = Path(work) / f"out{SUFFIX[fmt]}"
            ours: list[tuple[float, dict[str, object], float]] = []
            theirs: list[tuple[float, float]] = []
            for _ in range(args.runs):
                subprocess.run(["sync"], check=True)
                ours.append(run_vhdfix(disk, out, fmt))
                out.unlink()
                subprocess.run(["sync"], check=True)
                theirs.append(run_qemu(disk, out, fmt))
                out.unlink()
            seconds, result, _ = min(ours, key=lambda run: run[0])
            peak = max(run[2] for run in ours)
            qemu, qemu_plain = min(theirs)
            phases: dict[str, dict[str, float]] = result["phases"]  # type: ignore[assignment]
            split = {name: phases[name]["seconds"] for name in ("diagnosis", "plan", "copy", "verification")}
            share = split["verification"] / seconds
            ratio = seconds / qemu
            print(f"{fmt:10} {seconds:8.2f} {qemu:6.2f} ({qemu_plain:5.2f}) {ratio:6.2f} {split['diagnosis']:6.2f} "
                  f"{split['plan']:6.2f} {split['copy']:6.2f} {split['verification']:6.2f} {share:7.0%} {peak:7.0f} "
                  f"{phases['copy']['bytes_read'] / GIB:8.2f} {phases['copy']['bytes_written'] / GIB:11.2f} "
                  f"{phases['verification']['bytes_read'] / GIB:11.2f}")
            failed |= ratio > 1.0 or share > 0.35 or peak > 100
    print(f"targets: ratio <= 1.0 (goal 0.8), verify <= 35% of vhdfix's wall time, peak <= 100 MB; "
          f"seconds are wall-clock, Python start-up included; {shutil.which('qemu-img')}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
