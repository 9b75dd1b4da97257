"""Transaction-log recovery of a hive, in memory, as Windows does it when it loads a dirty hive.

regf spec, 'Dirty state of a hive', 'Format of transaction log files' and
'Multiple transaction log files'; write-path.md §7. The inputs are never
modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vhdfix.errors import HiveCorrupt, HiveLogInvalid
from vhdfix.registry.base_block import BaseBlock, read_base_block, sealed_base_block
from vhdfix.registry.dirt import DirtyVector, applicability_problem, read_dirty_vector, replay_dirty_pages
from vhdfix.registry.hive_bins import first_bad_hive_bin
from vhdfix.registry.hvle import EntryScan, Replay, replay_logs, scan_entries
from vhdfix.registry.log_file import LogReport, TransactionLog, validate_log
from vhdfix.registry.regf_format import BASE_BLOCK_SIZE, SECTOR_SIZE

State = Literal["clean", "recovered", "dirty-no-log"]


@dataclass(frozen=True)
class RecoveryResult:
    """The hive as Windows would load it.

    ``state``: ``clean`` (not dirty: ``data`` is the primary, logs ignored),
    ``recovered`` (logs applied, or the base block rebuilt from a log) or
    ``dirty-no-log`` (dirty, and no log could be applied: ``data`` is the
    primary as it is, possibly stale). ``entries_applied`` counts HvLE entries,
    or 1 for an applied old-format log. ``max_sequence`` is the highest
    sequence number in the primary, the valid logs' base blocks and their
    well-formed entries: a writer must go above it (write-path.md §6.5).
    """

    data: bytes
    state: State
    entries_applied: int
    max_sequence: int
    logs: tuple[LogReport, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Logs:
    """The logs given, sorted out: reports for the unusable ones, parsed structures for the rest."""

    reports: dict[int, LogReport]
    new: list[tuple[int, TransactionLog, EntryScan]]
    old: list[tuple[int, TransactionLog, DirtyVector]]


@dataclass(frozen=True)
class _Outcome:
    data: bytes | None  # None: nothing could be applied
    entries_applied: int
    warnings: list[str]


def recover(primary: bytes, logs: Sequence[tuple[str, bytes]]) -> RecoveryResult:
    """Recover ``primary`` with its ``(file name, bytes)`` logs, pure and in memory.

    Raises :class:`HiveCorrupt` only when ``primary`` is shorter than a base
    block. Invalid logs are reported, never raised: a dirty hive with no usable
    log is read as it is (``dirty-no-log``).
    """
    if len(primary) < BASE_BLOCK_SIZE:
        raise HiveCorrupt(f"{len(primary)} bytes, shorter than the {BASE_BLOCK_SIZE}-byte base block")
    base = read_base_block(primary)
    classified = _classify_logs(logs)
    max_sequence = _max_sequence(base, classified)

    if not base.is_dirty:
        for index, log in _valid(classified):
            # regf spec, 'Dirty state of a hive': logs of a hive that is not dirty are ignored.
            classified.reports[index] = LogReport(log.name, "unused", "the hive is not dirty")
        return RecoveryResult(bytes(primary), "clean", 0, max_sequence, _in_order(classified.reports), ())

    warnings = [str(report) for report in classified.reports.values() if report.status == "rejected"]
    if classified.new:
        for index, log, _ in classified.old:
            classified.reports[index] = LogReport(log.name, "unused", "old-format log next to new-format logs")
        outcome = _recover_new(primary, base, classified)
    else:
        outcome = _recover_old(primary, base, classified)
    warnings.extend(outcome.warnings)
    reports = _in_order(classified.reports)

    if outcome.data is None:
        dirty = (f"the hive is dirty (sequence numbers {base.primary_sequence_number}/"
                 f"{base.secondary_sequence_number}{'' if base.checksum_valid else ', bad base block checksum'})")
        why = "no transaction log was supplied" if not logs else "no transaction log could be applied"
        warnings += [str(report) for report in reports if report.status == "unused"]
        warnings.append(f"{dirty} and {why}: the primary file is read as it is and may be stale")
        return RecoveryResult(bytes(primary), "dirty-no-log", 0, max_sequence, reports, tuple(warnings))
    return RecoveryResult(outcome.data, "recovered", outcome.entries_applied, max_sequence, reports,
                          tuple(warnings))


def _classify_logs(logs: Sequence[tuple[str, bytes]]) -> _Logs:
    reports: dict[int, LogReport] = {}
    new: list[tuple[int, TransactionLog, EntryScan]] = []
    old: list[tuple[int, TransactionLog, DirtyVector]] = []
    for index, (name, data) in enumerate(logs):
        if not data:
            # regf spec, 'Multiple transaction log files': empty .LOG1/.LOG2 are normal next to a single .LOG.
            reports[index] = LogReport(name, "empty", "the file is empty")
            continue
        try:
            log = validate_log(name, data)
            if log.is_new_format:
                new.append((index, log, scan_entries(log.data)))
            else:
                old.append((index, log, read_dirty_vector(log)))
        except HiveLogInvalid as exc:
            reports[index] = LogReport(name, "rejected", exc.message)
    return _Logs(reports, new, old)


def _valid(logs: _Logs) -> list[tuple[int, TransactionLog]]:
    return [(index, log) for index, log, _ in logs.new] + [(index, log) for index, log, _ in logs.old]


def _in_order(reports: dict[int, LogReport]) -> tuple[LogReport, ...]:
    return tuple(reports[index] for index in sorted(reports))


def _max_sequence(base: BaseBlock, logs: _Logs) -> int:
    numbers = [base.primary_sequence_number, base.secondary_sequence_number]
    for _, log in _valid(logs):
        numbers += [log.base_block.primary_sequence_number, log.base_block.secondary_sequence_number]
    for _, _, scan in logs.new:
        numbers += [entry.sequence_number for entry in scan.entries]
    return max(numbers)


def _growth_limit(primary: bytes, base: BaseBlock, used: Sequence[TransactionLog]) -> int:
    """Largest hive bins data size a recovery may grow to.

    Grown hive bins arrive as dirty pages, so the recovered hive cannot
    legitimately be larger than the primary plus the logs used. Nothing is
    allocated from an unchecked length.
    """
    trusted = base.hive_bins_data_size if base.valid else 0
    return max(trusted, len(primary) - BASE_BLOCK_SIZE) + sum(len(log.data) for log in used)


def _recover_new(primary: bytes, base: BaseBlock, logs: _Logs) -> _Outcome:
    """regf spec, 'Multiple transaction log files' / 'New format', and 'Log entries', notes 5-6.

    Valid primary base block: both logs, the one with the earlier entries
    first (by their base blocks' sequence numbers: LOG1 is not guaranteed to
    be older). Invalid primary base block: only the log with the latest
    entries, whose base block replaces the primary's.
    """
    ordered = sorted(logs.new, key=lambda item: item[1].base_block.primary_sequence_number)
    if base.valid:
        used = ordered
        template = primary[:SECTOR_SIZE]
        oldest_sequence: int | None = base.secondary_sequence_number
    else:
        used = ordered[-1:]
        template = used[0][1].data[:SECTOR_SIZE]
        oldest_sequence = None
        for index, log, _ in ordered[:-1]:
            logs.reports[index] = LogReport(log.name, "unused", "the primary's base block is invalid, so only the "
                                                                "log with the latest entries is used")
    template_base = read_base_block(template)
    replay = Replay(bytearray(primary), template_base.hive_bins_data_size, template_base.flags)
    limit = _growth_limit(primary, base, [log for _, log, _ in used])
    reports, warnings = replay_logs(replay, [(log, scan) for _, log, scan in used],
                                    oldest_sequence=oldest_sequence, hive_bins_limit=limit)
    for (index, _, _), report in zip(used, reports, strict=True):
        logs.reports[index] = report
    if replay.sequence_number is None and base.valid:
        return _Outcome(None, 0, warnings)
    sequence = template_base.primary_sequence_number if replay.sequence_number is None else replay.sequence_number
    replay.image[:SECTOR_SIZE] = sealed_base_block(
        template,
        sequence_number=sequence,
        hive_bins_data_size=replay.hive_bins_data_size,
        flags=replay.flags,
        root_cell_offset=template_base.root_cell_offset,
    )
    # regf spec, 'Log entries', note 10: Windows replaces an invalid dirty hive bin with a dummy one.
    # vhdfix does not invent data: it reports the bin and leaves it to the reader to fail on it.
    bad = first_bad_hive_bin(replay.image, replay.hive_bins_data_size)
    if bad is not None:
        warnings.append(f"after replay, the hive bin at {bad[0]:#x} is invalid ({bad[1]})")
    return _Outcome(bytes(replay.image), replay.entries_applied, warnings)


def _recover_old(primary: bytes, base: BaseBlock, logs: _Logs) -> _Outcome:
    """regf spec, 'Old format' / 'Base block', notes 3-4, and 'Multiple transaction log files' / 'Old format'.

    A log applies when its timestamp matches the primary's. When both logs
    apply they must hold the same dirty data: vhdfix does not guess between
    two different logs (write-path.md §7.4).
    """
    candidates: list[tuple[int, TransactionLog, DirtyVector]] = []
    for index, log, vector in logs.old:
        problem = applicability_problem(primary, base, log)
        if problem is None and log.base_block.hive_bins_data_size > _growth_limit(primary, base, [log]):
            problem = f"its hive bins data size {log.base_block.hive_bins_data_size:#x} is larger than the input files"
        if problem is not None:
            logs.reports[index] = LogReport(log.name, "unused", problem)
        else:
            candidates.append((index, log, vector))
    if not candidates:
        return _Outcome(None, 0, [])
    index, log, vector = candidates[0]
    for other_index, other, other_vector in candidates[1:]:
        if _dirty_data(other, other_vector) != _dirty_data(log, vector):
            for candidate_index, candidate, _ in candidates:
                logs.reports[candidate_index] = LogReport(candidate.name, "unused", "both logs apply but hold "
                                                                                    "different dirty data")
            return _Outcome(None, 0, [f"{log.name} and {other.name} both apply but hold different dirty data"])
        logs.reports[other_index] = LogReport(other.name, "unused", f"same dirty data as {log.name}")

    image = bytearray(primary)
    needed = BASE_BLOCK_SIZE + log.base_block.hive_bins_data_size
    if len(image) < needed:
        image.extend(bytes(needed - len(image)))
    pages, warning = replay_dirty_pages(image, log, vector)
    template = primary[:SECTOR_SIZE] if base.valid else log.data[:SECTOR_SIZE]
    template_base = read_base_block(template)
    # The log's base block is a copy of the in-memory one at the time of the write: its sizes are current.
    image[:SECTOR_SIZE] = sealed_base_block(
        template,
        sequence_number=template_base.primary_sequence_number,
        hive_bins_data_size=log.base_block.hive_bins_data_size,
        flags=template_base.flags,
        root_cell_offset=log.base_block.root_cell_offset,
    )
    logs.reports[index] = LogReport(log.name, "applied", f"{pages} dirty pages", 1)
    return _Outcome(bytes(image), 1, [warning] if warning else [])


def _dirty_data(log: TransactionLog, vector: DirtyVector) -> tuple[tuple[int, ...], bytes]:
    end = vector.pages_start + len(vector.positions) * SECTOR_SIZE
    return vector.positions, log.data[vector.pages_start:end]
