"""The records ``vhdfix.diagnose`` yields: one diagnosis, then one record per evidence item."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dissect.target.helpers.record import TargetRecordDescriptor

from vhdfix.evidence.model import Evidence, RegistryEvidence
from vhdfix.inspection import Inspection

if TYPE_CHECKING:
    from dissect.target import Target
    from flow.record import Record

OWN_READERS = "vhdfix"

DiagnosisRecord = TargetRecordDescriptor(
    "vhdfix/diagnosis",
    [
        ("string", "article"),
        ("string[]", "tied"),
        ("string", "title"),
        ("string", "confidence"),
        ("string[]", "reasons"),
        ("string", "state"),
        ("string", "link"),
        ("string", "reader"),
        ("string[]", "warnings"),
        ("string", "error_code"),
        ("string", "error_message"),
    ],
)

EvidenceRecord = TargetRecordDescriptor(
    "vhdfix/evidence",
    [
        ("string", "article"),
        ("string", "fact"),
        ("string", "kind"),
        ("string", "path"),
        ("varint", "size"),
        ("boolean", "is_dir"),
        ("string", "hive"),
        ("string", "key"),
        ("string", "name"),
        ("string", "value"),
        ("string", "value_type"),
        ("string[]", "lines"),
        ("boolean", "truncated"),
        ("string", "note"),
        ("string", "reader"),
        ("boolean", "exact"),
    ],
)


def record_value(value: object) -> str:
    """A registry value as one string: text as it is, anything else as its ``vhdfix inspect --json`` JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def file_reader(inspection: Inspection) -> tuple[str, bool]:
    """Which reader produced the file evidence, and whether it reads what Windows would."""
    fallback = inspection.fallback
    if fallback is None:
        return OWN_READERS, True
    return f"dissect.target {fallback.loader} loader", fallback.loader != "raw"


def registry_reader(inspection: Inspection, hive_name: str) -> tuple[str, bool]:
    reading = next((reading for reading in inspection.hives if reading.name == hive_name), None)
    hive = reading.hive if reading is not None else None
    if hive_name == "BCD" and inspection.bcd is not None:
        hive = inspection.bcd.hive
    via = "" if inspection.fallback is None else f", hive files read through dissect.target " \
                                                  f"{inspection.fallback.loader} loader"
    if hive is None:
        return f"vhdfix.registry{via}", False
    if hive.state == "dirty-no-log":
        return f"vhdfix.registry{via}: dirty hive read without its logs, values may be stale", False
    replayed = f", {hive.entries_applied} log entries replayed" if hive.state == "recovered" else ""
    return f"vhdfix.registry{via}{replayed}: exact", True


def evidence_record(item: Evidence, article: str | None, inspection: Inspection, target: Target) -> Record:
    data = item.to_json()
    if isinstance(item, RegistryEvidence):
        reader, exact = registry_reader(inspection, item.hive)
        return EvidenceRecord(article=article, fact=item.fact, kind="registry", hive=item.hive, key=item.key,
                              name=item.name, value=record_value(data["value"]), value_type=item.type,
                              reader=reader, exact=exact, _target=target)
    reader, exact = file_reader(inspection)
    return EvidenceRecord(article=article, fact=item.fact, kind=data["kind"], path=data["path"],
                          size=data.get("size"), is_dir=data.get("is_dir", False), lines=data.get("lines"),
                          truncated=data.get("truncated"), note=data.get("note"), reader=reader, exact=exact,
                          _target=target)


def inspection_records(inspection: Inspection, target: Target) -> Iterator[Record]:
    """The diagnosis record, then the evidence records, of ``inspection`` (a disk or a dissect target)."""
    reader = OWN_READERS if inspection.fallback is None else f"dissect.target {inspection.fallback.loader} loader"
    error = inspection.error
    diagnosis = inspection.diagnosis
    best = diagnosis.best if diagnosis is not None else None
    article = best.article.id if best is not None else None
    state = "error" if error is not None else diagnosis.state if diagnosis is not None else "unknown"
    yield DiagnosisRecord(
        article=article,
        tied=[article] if article else [],  # the best article; a tie would list every tied article
        title=best.article.title if best else None,
        confidence=best.confidence if best else None,
        reasons=list(best.reasons) if best else [],
        state=state,
        link=best.article.link if best else None,
        reader=reader,
        warnings=inspection.warnings,
        error_code=error.code if error else None,
        error_message=error.message if error else None,
        _target=target,
    )
    for item in inspection.evidence.items if inspection.evidence is not None else []:
        yield evidence_record(item, article, inspection, target)
