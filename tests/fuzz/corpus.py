"""The regression corpus: inputs that once crashed, hung or blew up, kept with the outcome they must now have.

Each case is ``corpus/<id>.json`` plus its files, xz-compressed
(``corpus/<id>/<file>.xz``). The JSON names the target, the file to inspect,
what went wrong when the case was found (``found``), the mutation that made
it (``notes``) and ``expect``: the error code the input gives since the fix
(null: it inspects without error), with, optionally, a ``warning`` the
inspection must show. A case saved by the fuzzer has ``expect`` unset until
someone fixes the defect and records the outcome.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.checks import Outcome
from tests.fuzz.model import FuzzInput, Seed

CORPUS = Path(__file__).resolve().parent / "corpus"
UNSET = "unset"


@dataclass
class Case:
    id: str
    target: str
    main: str
    files: list[str]
    expect: str | None
    warning: str | None
    found: str
    notes: list[str]
    corpus: Path = CORPUS

    def unpack(self, into: Path) -> Path:
        """Write the case's files into ``into``; return the path of the main file."""
        for name in self.files:
            (into / name).write_bytes(lzma.decompress((self.corpus / self.id / f"{name}.xz").read_bytes()))
        return into / self.main


def save_case(target: str, seed: Seed, item: FuzzInput, outcome: Outcome, corpus: Path = CORPUS) -> Path:
    files = item.materialise(seed)
    digest = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()[:12]
    case_id = f"{target}-{digest}"
    folder = corpus / case_id
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.xz").write_bytes(lzma.compress(data, preset=6))
    record = {"target": target, "seed": seed.name, "main": seed.main, "files": sorted(files), "expect": UNSET,
              "found": f"{outcome.problem} (code {outcome.code})", "notes": item.notes}
    (corpus / f"{case_id}.json").write_text(json.dumps(record, indent=1) + "\n")
    return corpus / f"{case_id}.json"


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    cases = []
    for path in sorted(corpus.glob("*.json")):
        record = json.loads(path.read_text())
        cases.append(Case(path.stem, record["target"], record["main"], record["files"], record["expect"],
                          record.get("warning"), record["found"], record["notes"], corpus))
    return cases
