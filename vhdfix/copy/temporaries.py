"""Temporary output files with a recorded writer, so that a later run can remove what a killed one left.

Where the output cannot be written as an unnamed file (:mod:`vhdfix.copy.output`), it is written beside OUT
as ``.<stem>.vhdfix-<space>-<boot>-<pid>-<token><suffix>``: the name records the writing process (a digest
of its host and pid namespace, a digest of the host's boot id, and its pid). A copy to the same OUT removes
the files whose writer has certainly exited (``kill -9``, the OOM killer, a power loss), and never one whose
writer may still run or ran on another host or container.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

TEMP_MARK = ".vhdfix-"  # temporary files are named .<stem>.vhdfix-<owner tag>-<token><suffix>
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = "/proc/self/ns/pid"
UNKNOWN_BOOT = "0" * 8
OWNER_TAG = re.compile(r"(?P<space>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8})-(?P<pid>[1-9][0-9]{0,9})-[0-9a-f]{8}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie counts). Unknown counts as running."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would send a Ctrl-C event on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


@dataclass(frozen=True)
class Owner:
    """The process writing a named temporary file, as the file's name records it."""

    space: str  # where its pid means something: a digest of the host name and, on Linux, the pid namespace
    boot: str  # a digest of the host's boot id, or UNKNOWN_BOOT where the platform does not tell
    pid: int

    @classmethod
    def current(cls) -> Owner:
        try:
            namespace = os.readlink(PID_NAMESPACE)
        except OSError:
            namespace = ""
        try:
            boot = _digest(BOOT_ID.read_text().strip())
        except OSError:
            boot = UNKNOWN_BOOT
        return cls(_digest(f"{socket.gethostname()}\0{namespace}"), boot, os.getpid())

    @property
    def tag(self) -> str:
        return f"{self.space}-{self.boot}-{self.pid}"

    def has_exited(self, observer: Owner) -> bool:
        """Whether this owner has certainly exited, as the process ``observer`` can tell."""
        if self.space != observer.space:
            return False  # another host or container: its processes cannot be seen from here
        if UNKNOWN_BOOT not in (self.boot, observer.boot) and self.boot != observer.boot:
            return True  # it wrote before the host last started
        return self.pid != observer.pid and not process_exists(self.pid)


def temporary_name(target: Path, owner: Owner) -> str:
    """A new temporary name for ``target``, in its directory, recording ``owner``."""
    return f".{target.stem}{TEMP_MARK}{owner.tag}-{secrets.token_hex(4)}{target.suffix}"


def owner_of(name: str, target: Path) -> Owner | None:
    """The owner recorded in ``name`` if it is a temporary name of ``target``, else None."""
    prefix, suffix = f".{target.stem}{TEMP_MARK}", target.suffix
    if not name.startswith(prefix) or not name.endswith(suffix):
        return None
    found = OWNER_TAG.fullmatch(name[len(prefix):len(name) - len(suffix)])
    return Owner(found["space"], found["boot"], int(found["pid"])) if found else None


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files of ``target`` whose writers ended without removing them (``kill -9``, the OOM
    killer, a power loss), and return their paths. Files whose writer may still run, or ran on another host or
    container, are left alone."""
    me = Owner.current()
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []  # creating the output reports what is wrong with the directory
    removed = []
    for entry in entries:
        owner = owner_of(entry.name, target)
        if owner is None or not owner.has_exited(me) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            os.unlink(entry.path)
        except OSError:  # another run removed it first, or it is not ours to remove
            continue
        removed.append(Path(entry.path))
    return removed
