"""Benchmark (issue 15): does ``os.copy_file_range`` copy faster than reading and writing through Python buffers?

A repair must digest every block of the input as it copies it (the block-level proof of vhdfix.copy.digests),
so the bytes pass through Python either way; the question is only how they reach the output. On 1 GiB of random
data in benchmarks/out/, each strategy reads and digests every 1 MiB block, then
* ``buffered``: writes the block it read (``os.pwrite``), as vhdfix.copy does;
* ``kernel 1 MiB``: has the kernel copy the same block (``os.copy_file_range``);
* ``kernel 64 MiB``: has the kernel copy 64 MiB runs after digesting them;
and fsyncs the output. Runs alternate; best of N, each from a synced page cache.
Run: python benchmarks/bench_copy_path.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_disk import GIB, MIB, OUT

SIZE = GIB
RUN = 64 * MIB


def buffered(source: int, target: int) -> None:
    for offset in range(0, SIZE, MIB):
        data = os.pread(source, MIB, offset)
        zlib.crc32(data)
        os.pwrite(target, data, offset)


def kernel_blocks(source: int, target: int) -> None:
    for offset in range(0, SIZE, MIB):
        zlib.crc32(os.pread(source, MIB, offset))
        os.copy_file_range(source, target, MIB, offset, offset)


def kernel_runs(source: int, target: int) -> None:
    for start in range(0, SIZE, RUN):
        for offset in range(start, start + RUN, MIB):
            zlib.crc32(os.pread(source, MIB, offset))
        copied = 0
        while copied < RUN:
            copied += os.copy_file_range(source, target, RUN - copied, start + copied, start + copied)


def timed(strategy: Callable[[int, int], None], source_path: Path, target_path: Path) -> float:
    subprocess.run(["sync"], check=True)
    source = os.open(source_path, os.O_RDONLY)
    target = os.open(target_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        start = time.perf_counter()
        strategy(source, target)
        os.fsync(target)
        return time.perf_counter() - start
    finally:
        os.close(source)
        os.close(target)
        target_path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    OUT.mkdir(exist_ok=True)
    source = OUT / "random-1g.bin"
    if not source.exists():
        with open(source, "wb") as f:
            for _ in range(SIZE // MIB):
                f.write(os.urandom(MIB))
    strategies = {"buffered": buffered, "kernel 1 MiB": kernel_blocks, "kernel 64 MiB": kernel_runs}
    times: dict[str, list[float]] = {name: [] for name in strategies}
    for _ in range(runs):
        for name, strategy in strategies.items():
            times[name].append(timed(strategy, source, OUT / "copy-path.bin"))
    for name, seconds in times.items():
        print(f"{name:14} {min(seconds):6.2f} s  (runs: {', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main()
