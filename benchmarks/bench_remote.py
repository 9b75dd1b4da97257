"""Benchmark (issue 12): inspect the 127 GiB provisioning-agent disk where it lives, as a page blob in Azure Storage.

The disk of bench_inspect.py, as the fixed VHD Azure serves for an exported managed disk, is uploaded to a local
Azurite (only its non-zero pages, as AzCopy does). Then ``vhdfix inspect --json`` reads it by SAS URL and the run
reports what crossed the wire (bytes downloaded, requests) and the wall time beside inspecting the local file.
Targets: at most 4 MiB downloaded; the same article as the local file.
Run as bench_inspect.py says (an installed vhdfix with the azure extra, from outside the source tree):
/path/to/venv/bin/python /path/to/benchmarks/bench_remote.py. Needs VHDFIX_AZURITE (see .ci/run) and the tools of
benchmarks/large_disk.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "fixtures"), str(HERE.parent)]

from bench_inspect import populate  # noqa: E402
from large_disk import build_all  # noqa: E402

from tests.support.azurite import PAGE, UPLOAD_CHUNK, Azurite, upload_nonzero_pages  # noqa: E402
from vhdfix.copy.vhd import fixed_footer  # noqa: E402

RUNS = 3
MAX_DOWNLOAD = 4 << 20
BYTES_DOWNLOADED = """
import json, sys
from vhdfix.inspection import inspect
result = inspect(sys.argv[1])
image = result.disk.image
print(json.dumps({"article": result.to_json()["article"], "downloaded": image.bytes_downloaded,
                  "requests": image.requests, "bytes_read": image.bytes_read}))
"""


def data_extents(path: Path) -> list[tuple[int, int]]:
    """The (offset, length) extents of a sparse file that hold data."""
    extents = []
    with open(path, "rb") as file:
        end, position = os.fstat(file.fileno()).st_size, 0
        while position < end:
            try:
                start = os.lseek(file.fileno(), position, os.SEEK_DATA)
            except OSError:
                break
            stop = os.lseek(file.fileno(), start, os.SEEK_HOLE)
            extents.append((start, stop - start))
            position = stop
    return extents


def upload_fixed_vhd(server: Azurite, name: str, raw: Path) -> int:
    """``raw`` plus a fixed-VHD footer as a page blob, sending only non-zero pages; returns the bytes sent."""
    size = raw.stat().st_size
    client = server.blob(name)
    client.create_page_blob(size + PAGE)
    sent = 0
    with open(raw, "rb") as file:
        for offset, length in data_extents(raw):
            for start in range(offset, offset + length, UPLOAD_CHUNK):
                file.seek(start)
                sent += upload_nonzero_pages(client, file.read(min(UPLOAD_CHUNK, offset + length - start)), start)
    client.upload_page(fixed_footer(size), offset=size, length=PAGE)
    return sent + PAGE


def timed(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    disks = build_all("provisioning-agent-127g", populate)
    with tempfile.TemporaryDirectory() as work:
        server = Azurite(Path(work))
        try:
            started = time.perf_counter()
            sent = upload_fixed_vhd(server, "os.vhd", disks["raw"])
            print(f"uploaded {disks['raw'].name} as a {disks['raw'].stat().st_size / 2**30:.0f} GiB fixed-VHD page "
                  f"blob: {sent / 2**20:.1f} MiB of non-zero pages in {time.perf_counter() - started:.1f} s")
            url = server.sas_url("os.vhd")
            remote = min(timed([sys.executable, "-m", "vhdfix", "inspect", "--json", url]) for _ in range(RUNS))
            local = min(timed([sys.executable, "-m", "vhdfix", "inspect", "--json", str(disks["vhdx"])])
                        for _ in range(RUNS))
            cost = json.loads(subprocess.run([sys.executable, "-c", BYTES_DOWNLOADED, url], capture_output=True,
                                             text=True, check=True).stdout)
        finally:
            server.stop()
    article = json.loads(remote[1])["article"]
    print(f"inspect by URL     {remote[0]:6.3f} s wall (best of {RUNS}), {cost['downloaded'] / 2**20:.2f} MiB "
          f"downloaded in {cost['requests']} requests ({cost['bytes_read'] / 2**20:.2f} MiB read by the readers), "
          f"article {article}")
    print(f"inspect local file {local[0]:6.3f} s wall (best of {RUNS}), article {json.loads(local[1])['article']}")
    print(f"   target: <= {MAX_DOWNLOAD >> 20} MiB downloaded")
    sys.exit(0 if cost["downloaded"] <= MAX_DOWNLOAD and article == json.loads(local[1])["article"] else 1)


if __name__ == "__main__":
    main()
