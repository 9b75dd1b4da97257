"""The long fuzz run: many inputs per target, in worker processes watched for hangs.

Every input is reproducible from (``--seed``, target, index). A worker runs
its inputs one after another and reports each outcome as a JSON line; one that
stays silent for ``--hang-seconds`` is killed, and its input is recorded as a
hang. Findings (internal-error, an exception, more than 2 s of CPU, more than
200 MB) are saved to the corpus. Workers cap their address space so that a
blow-up ends in a MemoryError instead of starving the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.fuzz.checks import Outcome, Workspace, judge
from tests.fuzz.corpus import CORPUS, save_case
from tests.fuzz.model import FuzzInput, Seed, mutate
from tests.fuzz.seeds import realdata_root
from tests.fuzz.targets import TARGETS

ADDRESS_SPACE_LIMIT = 6 * 1024**3
REPO = Path(__file__).resolve().parents[2]


def generate(seeds: list[Seed], base_seed: int, target: str, index: int) -> tuple[Seed, FuzzInput]:
    rng = random.Random(f"{base_seed}:{target}:{index}")
    seed = rng.choice(seeds)
    return seed, mutate(seed, rng)


class SeedCache:
    def __init__(self, work: Path) -> None:
        self.work = work
        self._seeds: dict[str, list[Seed]] = {}

    def get(self, target: str) -> list[Seed]:
        if target not in self._seeds:
            folder = self.work / f"seeds-{target}"
            folder.mkdir(exist_ok=True)
            self._seeds[target] = TARGETS[target].seeds(folder, realdata_root())
        return self._seeds[target]


def worker(base_seed: int, corpus: Path) -> None:
    """Read ``target index`` lines on stdin, write one JSON outcome per line on stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    with tempfile.TemporaryDirectory(prefix="vhdfix-fuzz-") as tmp:
        cache = SeedCache(Path(tmp))
        workspace = Workspace(Path(tmp) / "work")
        for line in sys.stdin:
            target, index = line.split()
            seeds = cache.get(target)
            seed, item = generate(seeds, base_seed, target, int(index))
            outcome = judge(target, seed, item, workspace, TARGETS[target].run)
            record = asdict(outcome) | {"index": int(index)}
            if outcome.finding:
                record["saved"] = str(save_case(target, seed, item, outcome, corpus))
            print(json.dumps(record), flush=True)


def save_hang(base_seed: int, target: str, index: int, seconds: float, corpus: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="vhdfix-fuzz-") as tmp:
        seed, item = generate(SeedCache(Path(tmp)).get(target), base_seed, target, index)
        outcome = Outcome(target, seed.name, None, seconds, 0, f"no result within {seconds:.0f} s (hang)", item.notes)
        return str(save_case(target, seed, item, outcome, corpus))


def dump(base_seed: int, target: str, index: int, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vhdfix-fuzz-") as tmp:
        seed, item = generate(SeedCache(Path(tmp)).get(target), base_seed, target, index)
        for name, data in item.materialise(seed).items():
            (into / name).write_bytes(data)
    print(f"{seed.name}: {into / seed.main}")
    print("\n".join(item.notes))


@dataclass
class Tally:
    inputs: int = 0
    findings: int = 0
    seconds: float = 0.0  # wall-clock time its inputs kept a worker busy
    max_cpu: float = 0.0
    max_peak: int = 0
    codes: Counter[str] = field(default_factory=Counter)


class WorkerProcess:
    def __init__(self, base_seed: int, corpus: Path) -> None:
        command = [sys.executable, "-m", "tests.fuzz.long_run", "--worker", "--seed", str(base_seed),
                   "--corpus", str(corpus)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, bufsize=1)
        self.task: tuple[str, int] | None = None
        self.started = 0.0

    def send(self, target: str, index: int) -> None:
        assert self.process.stdin is not None
        self.task, self.started = (target, index), time.monotonic()
        self.process.stdin.write(f"{target} {index}\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def run(args: argparse.Namespace) -> dict[str, object]:
    targets = [name for name in (args.targets.split(",") if args.targets else TARGETS)]
    shares = {name: TARGETS[name].share for name in targets}
    total_share = sum(shares.values())
    tasks = []
    for name in targets:
        count = round(args.inputs * shares[name] / total_share)
        tasks += [(name, index) for index in range(args.first, args.first + count)]
    random.Random(args.seed).shuffle(tasks)
    tallies = {name: Tally() for name in targets}
    findings: list[dict[str, object]] = []
    selector = selectors.DefaultSelector()
    workers: list[WorkerProcess] = []
    pending = list(reversed(tasks))
    started = time.monotonic()
    last_report = started

    def feed(process: WorkerProcess) -> None:
        if pending:
            process.send(*pending.pop())
        else:
            process.task = None

    def start_worker() -> WorkerProcess:
        process = WorkerProcess(args.seed, args.corpus)
        assert process.process.stdout is not None
        selector.register(process.process.stdout, selectors.EVENT_READ, process)
        workers.append(process)
        feed(process)
        return process

    for _ in range(args.jobs):
        start_worker()
    while any(w.task is not None for w in workers):
        for key, _ in selector.select(timeout=1.0):
            process: WorkerProcess = key.data
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError(f"a worker died while running {process.task}")
            record = json.loads(line)
            tally = tallies[record["target"]]
            tally.inputs += 1
            tally.seconds += time.monotonic() - process.started
            tally.max_cpu = max(tally.max_cpu, record["cpu"])
            tally.max_peak = max(tally.max_peak, record["peak"])
            tally.codes[record["code"] or "ok"] += 1
            if record["problem"]:
                tally.findings += 1
                findings.append(record)
                print(f"FINDING {record['target']}#{record['index']}: {record['problem'][:200]} -> {record['saved']}",
                      flush=True)
            feed(process)
        for process in list(workers):
            if process.task is not None and time.monotonic() - process.started > args.hang_seconds:
                target, index = process.task
                selector.unregister(process.process.stdout)  # type: ignore[arg-type]
                process.kill()
                workers.remove(process)
                saved = save_hang(args.seed, target, index, args.hang_seconds, args.corpus)
                tallies[target].inputs += 1
                tallies[target].findings += 1
                tallies[target].seconds += args.hang_seconds
                findings.append({"target": target, "index": index, "problem": "hang", "saved": saved})
                print(f"HANG {target}#{index} -> {saved}", flush=True)
                start_worker()
        if time.monotonic() - last_report > 60:
            done = sum(t.inputs for t in tallies.values())
            print(f"{done}/{len(tasks)} inputs, {time.monotonic() - started:.0f} s, "
                  f"{sum(t.findings for t in tallies.values())} findings", flush=True)
            last_report = time.monotonic()
    for process in workers:
        assert process.process.stdin is not None
        process.process.stdin.close()
        process.process.wait()
    return {"inputs": len(tasks), "seconds": round(time.monotonic() - started, 1), "jobs": args.jobs,
            "seed": args.seed, "targets": {name: {"inputs": t.inputs, "findings": t.findings,
                                                  "worker_seconds": round(t.seconds, 1),
                                                  "max_cpu_seconds": round(t.max_cpu, 3),
                                                  "max_peak_mib": round(t.max_peak / 2**20, 1),
                                                  "codes": dict(t.codes.most_common())}
                                           for name, t in tallies.items()},
            "findings": findings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs in total, shared out among the targets")
    parser.add_argument("--targets", help=f"comma-separated subset of {', '.join(TARGETS)}")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="first input index (to continue an earlier run)")
    parser.add_argument("--hang-seconds", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--report", type=Path, help="write the per-target counts here as JSON")
    parser.add_argument("--dump", nargs=3, metavar=("TARGET", "INDEX", "DIR"),
                        help="write input INDEX of TARGET (with --seed) into DIR and print its mutations")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.corpus.mkdir(parents=True, exist_ok=True)
    if args.dump:
        dump(args.seed, args.dump[0], int(args.dump[1]), Path(args.dump[2]))
        return 0
    if args.worker:
        worker(args.seed, args.corpus)
        return 0
    report = run(args)
    text = json.dumps(report, indent=1)
    if args.report:
        args.report.write_text(text + "\n")
    print(text)
    return 1 if report["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
