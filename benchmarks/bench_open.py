"""Benchmark (issue 2): open the 127 GiB disk and locate its Windows volume.

Targets: < 0.3 s after Python start, < 8 MiB read from the image,
< 100 MB peak memory, independent of the virtual size.
Run: python benchmarks/bench_open.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_disk import build_all

CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
from vhdfix.disk import open_disk
from vhdfix.partitions import read_partition_table
from vhdfix.windows import find_windows_volume
disk = open_disk(sys.argv[1])
table = read_partition_table(disk)
windows, _ = find_windows_volume(disk, table)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "bytes_read": disk.bytes_read, "partition": windows.partition.number,
                  "log": windows.state.logfile.status,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def populate(root: Path) -> None:
    config = root / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    for hive in ("SYSTEM", "SOFTWARE", "SAM", "SECURITY", "DEFAULT"):
        (config / hive).write_bytes(b"regf" + bytes(8 * 1024 * 1024 - 4))
    for folder in ("Program Files", "Users/Default", "Windows/Panther", "Windows/Setup/State", "Windows/OEM"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index in range(2000):
        (root / "Windows" / "System32" / f"file{index:05}.dll").write_bytes(b"MZ" + bytes(100))


def main() -> None:
    disks = build_all("windows-127g", populate)
    print(f"{'format':6} {'seconds':>8} {'MiB read':>9} {'peak MB':>8}  targets: <0.3 s, <8 MiB, <100 MB")
    failed = False
    for kind in ("vhd", "vhdx"):
        runs = []
        for _ in range(5):
            out = subprocess.run([sys.executable, "-c", CHILD, str(disks[kind])], check=True, capture_output=True,
                                 text=True)
            runs.append(json.loads(out.stdout))
        best = min(runs, key=lambda r: r["seconds"])
        mib = best["bytes_read"] / 2**20
        print(f"{kind:6} {best['seconds']:8.3f} {mib:9.2f} {best['peak_rss_mb']:8.1f}  "
              f"(Windows on partition {best['partition']}, $LogFile {best['log']}, best of 5)")
        failed |= best["seconds"] >= 0.3 or mib >= 8 or best["peak_rss_mb"] >= 100
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
