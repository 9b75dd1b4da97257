"""Gates: conditions under which vhdfix refuses to write anything (write-path.md §1, §5.2, §5.6, §8).

Each failure raises its own :class:`~vhdfix.errors.RefusedUnsafe` subclass,
with a message that says what to do. Planning checks the input's VHDX logs
and the volume here, the hives in :mod:`vhdfix.writer.hive_plan` and each file
in :mod:`vhdfix.writer.ntfs_delete`. Patching a copy in place
(:mod:`vhdfix.writer.container_patch`) also needs a single file (no parent)
whose touched blocks are all stored; a copy written by the copy engine is
flattened and fully stored, so those two gates belong to the in-place path.
"""

from __future__ import annotations

from vhdfix.disk.container import Container
from vhdfix.disk.vhdx import VhdxDisk
from vhdfix.errors import (
    DifferencingTarget,
    LogFileFastStartup,
    LogFileUnclean,
    LogFileUnknown,
    VhdxLogPresent,
    VolumeDirty,
    VolumeHibernated,
)
from vhdfix.ntfs import VolumeState

_BOOT_AND_SHUT_DOWN = ("start the VM (or attach the disk to a repair VM), let Windows finish, and shut it down "
                       "cleanly with 'shutdown /s /t 0'")


def check_no_pending_log(disk: Container) -> None:
    """No VHDX in the chain may have a log to replay (write-path.md §8.3), even one replayed in memory."""
    node: Container | None = disk
    while node is not None:
        if isinstance(node, VhdxDisk) and (bytes(node.header.log_guid) != bytes(16) or node.log_replayed_entries):
            raise VhdxLogPresent(f"{node.image.path.name} has a VHDX log that must be replayed before the file is "
                                 "changed; replay it into a copy first (for example 'qemu-img check -r all' on a "
                                 "copy, or by opening the disk once in Hyper-V)")
        node = node.parent


def check_container(disk: Container) -> None:
    """A file patched in place must be one file (no parent) with no VHDX log to replay."""
    name = disk.image.path.name
    if disk.parent is not None or disk.info.variant == "differencing":
        raise DifferencingTarget(f"{name} is a differencing disk whose content depends on its parent; write the "
                                 "repair into a flattened copy (vhdfix's copy engine flattens the chain)")
    check_no_pending_log(disk)


def check_volume(state: VolumeState, label: str) -> None:
    """The NTFS volume must be cleanly unmounted, not dirty and not hibernated (write-path.md §5.2)."""
    status = state.logfile.status
    if status == "unclean":
        raise LogFileUnclean(f"{label}: $LogFile is not clean (the volume was not shut down cleanly); Windows "
                             f"would replay it over the repair. To fix: {_BOOT_AND_SHUT_DOWN}")
    if status == "fast-startup":
        raise LogFileFastStartup(f"{label}: $LogFile is version 2.0 (Fast Startup, hibernation or no clean "
                                 f"shutdown), so Windows keeps metadata in its cache. To fix: turn Fast Startup "
                                 f"off ('powercfg /h off') and {_BOOT_AND_SHUT_DOWN}")
    if status not in ("empty", "clean"):
        raise LogFileUnknown(f"{label}: $LogFile is {status} ({state.logfile.detail}); vhdfix cannot tell whether "
                             f"Windows would replay it. To fix: {_BOOT_AND_SHUT_DOWN}")
    if state.dirty:
        raise VolumeDirty(f"{label}: the NTFS dirty flag is set, so Windows will run chkdsk, which may undo or "
                          f"change the repair. To fix: run 'chkdsk /f' on the volume in Windows (or a repair VM) "
                          "first")
    if state.hibernation in ("hibernated", "short-hiberfil"):
        raise VolumeHibernated(f"{label}: hiberfil.sys holds a hibernation image; resuming it would overwrite the "
                               f"repair. To fix: {_BOOT_AND_SHUT_DOWN} (a full shutdown, not hibernate)")
