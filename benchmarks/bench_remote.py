"""Benchmark (issue 12): inspect and repair the 127 GiB provisioning-agent disk where it lives, in Azure Storage.

The disk of bench_inspect.py, as the fixed VHD Azure serves for an exported managed disk, is uploaded to a local
Azurite (only its non-zero pages, as AzCopy does). Then:

* ``vhdfix inspect --json`` reads it by SAS URL; the run reports what crossed the wire (bytes downloaded,
  requests) and the wall time beside inspecting the local file. Targets: at most 4 MiB downloaded; the same
  article as the local file.
* ``vhdfix.repair`` writes it, repaired, into a new page blob (URL to URL); the run reports the bytes sent beside
  the source blob's allocated pages, the wall time and the process's peak memory (its maximum RSS). Targets:
  at most 1.05 times the allocated data sent, at most 150 MB.

Azurite keeps the blobs (about twice the allocated data) in a temporary folder, removed at the end.
Run as bench_inspect.py says (an installed vhdfix with the azure extra, from outside the source tree):
/path/to/venv/bin/python /path/to/benchmarks/bench_remote.py [--disks DIR]. ``--disks`` names a folder that holds
the disks large_disk.py built (``provisioning-agent-127g.raw`` and ``.vhdx``; sparse files, used where they are);
without it they are built or found in benchmarks/out/. Needs VHDFIX_AZURITE (see .ci/run) and the tools of
benchmarks/large_disk.py.
"""

from __future__ import annotations

import argparse
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
from tests.support.remote_repair import write_sas_url  # noqa: E402
from vhdfix.copy.vhd import fixed_footer  # noqa: E402

NAME = "provisioning-agent-127g"
RUNS = 3
MAX_DOWNLOAD = 4 << 20
MAX_SENT_RATIO = 1.05
MAX_PEAK_MEMORY = 150 * 10**6
BYTES_DOWNLOADED = """
import json, sys
from vhdfix.inspection import inspect
result = inspect(sys.argv[1])
image = result.disk.image
print(json.dumps({"article": result.to_json()["article"], "downloaded": image.bytes_downloaded,
                  "requests": image.requests, "rounds": image.rounds, "bytes_read": image.bytes_read}))
"""
REPAIR = """
import json, resource, sys, time
from vhdfix import repair
started = time.perf_counter()
result = repair(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
blob = result.to_json()["output"]["blob"]
print(json.dumps({"exit_code": result.exit_code, "message": result.message, "seconds": seconds,
                  "sent": blob["bytes_sent"], "put_requests": blob["put_requests"],
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
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


def disks(folder: Path | None) -> dict[str, Path]:
    if folder is None:
        return build_all(NAME, populate)
    found = {kind: folder / f"{NAME}.{kind}" for kind in ("raw", "vhdx")}
    missing = [str(path) for path in found.values() if not path.exists()]
    if missing:
        sys.exit(f"not found: {', '.join(missing)}")
    return found


def allocated(server: Azurite, name: str) -> int:
    """The bytes of the blob's page ranges."""
    return sum(page.end + 1 - page.start for page in server.blob(name).list_page_ranges() if not page.cleared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--disks", type=Path, help="a folder holding the disks large_disk.py built")
    local_disks = disks(parser.parse_args().disks)
    with tempfile.TemporaryDirectory() as work:
        server = Azurite(Path(work))
        try:
            started = time.perf_counter()
            sent = upload_fixed_vhd(server, "os.vhd", local_disks["raw"])
            print(f"uploaded {local_disks['raw'].name} as a {local_disks['raw'].stat().st_size / 2**30:.0f} GiB "
                  f"fixed-VHD page blob: {sent / 2**20:.1f} MiB of non-zero pages in "
                  f"{time.perf_counter() - started:.1f} s")
            url = server.sas_url("os.vhd")
            remote = min(timed([sys.executable, "-m", "vhdfix", "inspect", "--json", url]) for _ in range(RUNS))
            local = min(timed([sys.executable, "-m", "vhdfix", "inspect", "--json", str(local_disks["vhdx"])])
                        for _ in range(RUNS))
            cost = json.loads(subprocess.run([sys.executable, "-c", BYTES_DOWNLOADED, url], capture_output=True,
                                             text=True, check=True).stdout)
            source_allocated = allocated(server, "os.vhd")
            repair_wall, repair_out = timed([sys.executable, "-c", REPAIR, write_sas_url(server, "os.vhd"),
                                             write_sas_url(server, "repaired.vhd")])
            repaired = json.loads(repair_out)
        finally:
            server.stop()
    article = json.loads(remote[1])["article"]
    print(f"inspect by URL     {remote[0]:6.3f} s wall (best of {RUNS}), {cost['downloaded'] / 2**20:.2f} MiB "
          f"downloaded in {cost['requests']} requests, {cost['rounds']} rounds one after another "
          f"({cost['bytes_read'] / 2**20:.2f} MiB read by the readers), "
          f"article {article}")
    print(f"inspect local file {local[0]:6.3f} s wall (best of {RUNS}), article {json.loads(local[1])['article']}")
    print(f"   target: <= {MAX_DOWNLOAD >> 20} MiB downloaded")
    ratio = repaired["sent"] / source_allocated
    print(f"repair URL -> new page blob: exit {repaired['exit_code']} ({repaired['message']})")
    print(f"   {repaired['sent'] / 2**20:.1f} MiB sent in {repaired['put_requests']} Put Page requests for "
          f"{source_allocated / 2**20:.1f} MiB allocated in the source ({ratio:.3f}x); {repair_wall:.1f} s wall "
          f"({repaired['seconds']:.1f} s in repair()); peak memory {repaired['peak_rss'] / 1e6:.0f} MB")
    print(f"   targets: <= {MAX_SENT_RATIO}x the allocated data, <= {MAX_PEAK_MEMORY // 10**6} MB")
    inspect_ok = cost["downloaded"] <= MAX_DOWNLOAD and article == json.loads(local[1])["article"]
    repair_ok = repaired["exit_code"] == 0 and ratio <= MAX_SENT_RATIO and repaired["peak_rss"] <= MAX_PEAK_MEMORY
    sys.exit(0 if inspect_ok and repair_ok else 1)


if __name__ == "__main__":
    main()
