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

    if result.warnings:
        lines.append(style.heading("Warnings"))
        lines.extend(style.warn(f"  ! {warning}") for warning in result.warnings)
    return "\n".join(lines)
