"""Load the SYSTEM and SOFTWARE hives, with their transaction logs, off the Windows files."""

from __future__ import annotations

from dataclasses import dataclass, field

from vhdfix.errors import HiveCorrupt, HiveMissing, InputError
from vhdfix.registry import Hive, open_hive
from vhdfix.windows.files import WindowsFiles

CONFIG_DIR = "Windows\\System32\\config"
LOG_SUFFIXES = (".LOG", ".LOG1", ".LOG2")
MAX_HIVE_BYTES = 1024 * 1024 * 1024  # the registry's own ceiling for a hive file is 2 GiB; SYSTEM is far smaller


@dataclass
class HiveReading:
    """One hive as read off the volume: the parsed hive, or why it could not be read."""

    name: str
    path: str
    hive: Hive | None = None
    error: InputError | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        if self.error is not None:
            return [f"{self.name} hive: [{self.error.code}] {self.error.message}"]
        assert self.hive is not None
        found = [f"{self.name} hive: {warning}" for warning in self.hive.warnings]
        if self.hive.state == "recovered":
            found.insert(0, f"{self.name} hive is dirty: {self.hive.entries_applied} transaction-log entries were "
                            "replayed in memory; the values shown are the recovered ones, the file itself is stale")
        return found

    def to_json(self) -> dict[str, object]:
        result: dict[str, object] = {"name": self.name, "path": self.path, "logs": self.logs}
        if self.hive is not None:
            result.update(state=self.hive.state, entries_applied=self.hive.entries_applied)
        if self.error is not None:
            result["error"] = self.error.to_json()
        return result


def _read_whole(files: WindowsFiles, path: str) -> bytes | None:
    found = files.read_file(path, MAX_HIVE_BYTES)
    if found is None:
        return None
    data, cut = found
    if cut:
        raise HiveCorrupt(f"{path} is larger than {MAX_HIVE_BYTES} bytes")
    return data


def load_hive(files: WindowsFiles, name: str) -> HiveReading:
    """Read ``config\\<name>`` and its ``.LOG``/``.LOG1``/``.LOG2`` (any case) and recover it in memory."""
    path = f"{CONFIG_DIR}\\{name}"
    reading = HiveReading(name, path)
    try:
        primary = _read_whole(files, path)
        if primary is None:
            raise HiveMissing(f"{path} does not exist")
        logs = []
        for suffix in LOG_SUFFIXES:
            data = _read_whole(files, path + suffix)
            if data is not None:
                logs.append((name + suffix, data))
                reading.logs.append(name + suffix)
        reading.hive = open_hive(name, primary, logs)
    except InputError as exc:
        reading.error = exc
    return reading
