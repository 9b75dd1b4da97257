"""``inspect``: open a disk, find its Windows volume, and describe what was found.

This is the Python API behind ``vhdfix inspect``; :meth:`Inspection.to_json`
is exactly the JSON the CLI prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from vhdfix.disk import Container, open_disk
from vhdfix.errors import InternalError, VhdfixError
from vhdfix.partitions import PartitionTable, read_partition_table
from vhdfix.windows import VolumeSurvey, WindowsVolume, find_windows_volume

SCHEMA = "vhdfix.inspect/1"


@dataclass
class Inspection:
    path: str
    disk: Container | None = None
    table: PartitionTable | None = None
    windows: WindowsVolume | None = None
    surveys: list[VolumeSurvey] = field(default_factory=list)
    error: VhdfixError | None = None

    @property
    def warnings(self) -> list[str]:
        found: list[str] = []
        if self.disk is not None:
            found += self.disk.warnings
        if self.table is not None and self.table.warnings:
            found += self.table.warnings
        if self.windows is not None:
            found += [f"Windows volume: {problem}" for problem in self.windows.state.problems]
        return found

    @property
    def exit_code(self) -> int:
        return 3 if self.error is not None else 0

    def disk_json(self) -> dict[str, object]:
        if self.disk is None:
            return {"path": self.path}
        info = self.disk.info
        return {"path": self.path, "format": info.format, "variant": info.variant,
                "virtual_size": info.virtual_size, "sector_size": info.sector_size,
                "chain": [link.to_json() for link in self.disk.chain]}

    def to_json(self) -> dict[str, object]:
        result: dict[str, object] = {"schema": SCHEMA, "disk": self.disk_json()}
        if self.error is not None:
            result["error"] = self.error.to_json()
            return result
        result["partition_table"] = self.table.to_json() if self.table else None
        result["volumes"] = [s.to_json() for s in self.surveys]
        result["windows_volume"] = self.windows.to_json() if self.windows else None
        result["warnings"] = self.warnings
        return result


def inspect(path: str | os.PathLike[str], parents: Sequence[str | os.PathLike[str]] = (),
            follow_parent_paths: bool = False) -> Inspection:
    """Inspect one disk image. Never raises for a bad image: the error is in the result."""
    result = Inspection(str(path))
    try:
        result.disk = open_disk(path, parents, follow_parent_paths)
        result.table = read_partition_table(result.disk)
        result.windows, result.surveys = find_windows_volume(result.disk, result.table)
    except VhdfixError as exc:
        result.error = exc
    except RecursionError:
        result.error = InternalError(f"{path}: structure nests too deeply")
    except Exception as exc:  # a defect in vhdfix must still honour the JSON/exit-code contract
        result.error = InternalError(f"{path}: unexpected {type(exc).__name__}: {exc}"[:300])
    finally:
        if result.disk is not None:
            result.disk.close()
    return result
