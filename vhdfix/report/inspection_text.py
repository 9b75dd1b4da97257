"""The human report of ``vhdfix inspect``."""

from __future__ import annotations

from pathlib import Path

from vhdfix.inspection import Inspection
from vhdfix.report.style import Style, human_size


def render_inspection(result: Inspection, style: Style) -> str:
    lines = [style.heading(f"Disk  {result.path}")]
    if result.disk is not None:
        info = result.disk.info
        lines.append(f"  format        {info.format.upper()} {info.variant}, {human_size(info.virtual_size)} virtual "
                     f"({info.virtual_size} bytes)")
        chain = result.disk.chain
        if len(chain) > 1:
            lines.append("  chain         " + " -> ".join(Path(link.path).name for link in chain))
    if result.fallback is not None:
        fallback = result.fallback
        how = f"{fallback.loader} loader" + (f", {fallback.container} container" if fallback.container else "")
        lines.append("  opened by     " + style.warn(f"dissect.target, {how} (vhdfix's own readers do not open it; "
                                                     "read only, see Warnings)"))
    if result.error is not None:
        lines.append(style.bad(f"  error         [{result.error.code}] {result.error.message}"))
        return "\n".join(lines)

    if result.table is not None:
        lines.append(style.heading(f"Partitions  ({result.table.scheme.upper()}, "
                                   f"{result.table.sector_size}-byte sectors)"))
        surveys = {s.partition.number: s for s in result.surveys}
        for part in result.table.partitions:
            survey = surveys.get(part.number)
            marks = []
            if part.bootable:
                marks.append("active")
            if survey is not None:
                marks.append(survey.filesystem)
            if result.windows is not None and part.number == result.windows.partition.number:
                marks.append(style.good("Windows"))
            label = f" \"{part.name}\"" if part.name else ""
            lines.append(f"  #{part.number:<3} {human_size(part.size):>10} at {part.offset:<12} "
                         f"{part.type_name}{label}  [{', '.join(marks)}]")

    if result.windows is not None:
        state = result.windows.state
        lines.append(style.heading(f"Windows volume  partition {result.windows.partition.number}, "
                                   f"NTFS {state.ntfs_version}, serial {result.windows.ntfs.serial}"))
        lines.append(f"  dirty flag    {style.bad('set') if state.dirty else 'clear'}")
        log = state.logfile
        log_text = log.status + (f" (v{log.version})" if log.version else "")
        lines.append(f"  $LogFile      {log_text if log.safe_to_write else style.bad(log_text)}")
        lines.append(f"  hibernation   {state.hibernation}")
        facts = result.evidence.facts if result.evidence else {}
        if facts.get("os.ProductName"):
            build = f" (build {facts['os.CurrentBuild']})" if facts.get("os.CurrentBuild") else ""
            lines.append(f"  Windows       {facts['os.ProductName']}{build}")
    if result.windows is not None or result.fallback is not None:
        for reading in result.hives:
            status = reading.error.code if reading.error else reading.hive.state  # type: ignore[union-attr]
            applied = reading.hive.entries_applied if reading.hive else 0
            extra = f", {applied} log entries applied" if applied else ""
            lines.append(f"  {reading.name + ' hive':13} {status}{extra}")

    if result.evidence is not None:
        lines.extend(_evidence_lines(result, style))
    if result.diagnosis is not None:
        lines.extend(_diagnosis_lines(result, style))

    if result.warnings:
        lines.append(style.heading("Warnings"))
        lines.extend(style.warn(f"  ! {warning}") for warning in result.warnings)
    return "\n".join(lines)


def _evidence_lines(result: Inspection, style: Style) -> list[str]:
    assert result.evidence is not None
    lines = [style.heading("Evidence")]
    for item in result.evidence.items:
        data = item.to_json()
        if data["kind"] == "registry":
            lines.append(f"  {data['hive']}\\{data['key']}\\{data['name']} = {data['value']!r}")
        elif data["kind"] == "file":
            note = f"  ({data['note']})" if data.get("note") else ""
            kind = "dir " if data.get("is_dir") else "file"
            lines.append(f"  {kind} {data['path']}  {data['size']} bytes{note}")
        else:
            lines.append(f"  log  {data['path']}:")
            lines.extend(f"         | {line[:160]}" for line in data["lines"][-3:])
    if len(lines) == 1:
        lines.append("  (nothing notable found)")
    return lines


def _screen_lines(result: Inspection, style: Style) -> list[str]:
    assert result.diagnosis is not None
    screen = result.diagnosis.screen
    if screen is None:
        return []
    if not screen.named:
        return [style.warn(f"  Screen text {screen.text!r} matched no article: the diagnosis is the disk's alone.")]
    return [f"  Screen text {screen.text!r} names: {', '.join(screen.named_ids)}"]


def _tie_lines(result: Inspection, style: Style) -> list[str]:
    assert result.diagnosis is not None
    tied = result.diagnosis.tied
    if len(tied) < 2:
        return []
    lines = [style.warn(f"  TIED: the disk shows the same evidence for {len(tied)} articles (confidence "
                        f"{tied[0].confidence}); only the screen tells them apart:")]
    for match in tied:
        lines.append(f"    {match.article.id}")
        lines.append(f"        screen: {match.article.screen_text}")
    lines.append("  Pass --screen-text \"<the text of the boot-diagnostics screenshot>\" to pick one. "
                 "The first is detailed below.")
    return lines


def _diagnosis_lines(result: Inspection, style: Style) -> list[str]:
    assert result.diagnosis is not None
    article = result.article
    if article is None:
        lines = [style.heading("Diagnosis"), *_screen_lines(result, style)]
        states = result.diagnosis.states
        if states:
            state = states[0].article
            lines += [style.good(f"  No boot-error article applies: {state.title}"), f"  {state.summary}"]
            lines.extend(f"  - {step}" for step in state.steps)
            return lines
        return [*lines, "  No known article matches the evidence."]
    best = result.diagnosis.matches[0]
    tied = result.diagnosis.tied
    lines = [style.heading("Diagnosis"), *_screen_lines(result, style), *_tie_lines(result, style),
             style.bad(f"  {article.id}") + f"  (confidence {best.confidence})",
             f"  {article.title}"]
    if article.platform == "linux":
        lines.append(style.warn("  A Linux article: this is a Linux disk, which vhdfix diagnoses no further "
                                "and does not repair."))
    if not best.disk_evidence:
        lines.append(style.warn("  Named by the screen text only: the disk shows no sign of its cause."))
    if article.screen_text:
        lines.append(f"  Screen: {article.screen_text}")
    if article.link:
        lines.append(f"  Article: {article.link}")
    lines.extend(f"  why: {reason}" for reason in best.reasons)
    lines.extend(f"  {fact}: {best.facts.get(fact)!r}" for fact in article.remedy_facts)
    for other in result.diagnosis.matches[len(tied):]:
        lines.append(f"  also matches: {other.article.id} (confidence {other.confidence})")
    lines.append(style.heading("What to do"))
    lines.extend(f"  - {step}" for step in article.steps)
    if article.remedy:
        lines.append(style.heading("Remedy steps (vhdfix repair)"))
        for step in article.remedy:
            label = "documented by Microsoft" if step.documented else style.warn("NOT documented by Microsoft")
            lines.append(f"  [{label}] {step.text}")
    return lines
