"""Evidence for the non-Sysprep OSStartUp articles (azure-articles.md §8): servicing, roles, upgrade, dumps,
free space and the BCD."""

from __future__ import annotations

from datetime import datetime

from vhdfix.evidence.locations import (
    CBS_PACKAGES,
    CBS_PENDING_STATES,
    FEATURE_COMPLETED_IDS,
    FEATURE_EVENT_ID,
    KEYS,
    MARKERS,
    MAX_CBS_PACKAGES,
    MAX_FEATURE_EVENTS,
    SERVICING_PROVIDER,
    SETUP_EVTX,
    SQL_INSTANCES,
)
from vhdfix.evidence.model import EvidenceSet, FileEvidence, LogEvidence, RegistryEvidence
from vhdfix.evidence.reader import VolumeReader, key_exists
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.free_space import free_space
from vhdfix.registry import Hive
from vhdfix.windows.bcd import BOOTMGR, DEFAULT_OBJECT, SAFEBOOT, BcdReading, bcd_element
from vhdfix.windows.event_log import MAX_EVTX_BYTES, read_events
from vhdfix.windows.hives import HiveReading

SAFEBOOT_NAMES = {0: "Minimal", 1: "Network", 2: "DsRepair"}


def os_build(evidence: EvidenceSet) -> None:
    """``os.build`` as an int (CurrentBuildNumber is a REG_SZ)."""
    build = evidence.get("os.build")
    if build is None:
        return
    text = str(build).strip()
    number = text.isascii() and text.isdigit() and len(text) < 10
    evidence.set("os.build", int(text) if number else None)
    if not number:
        evidence.warnings.append(f"SOFTWARE CurrentBuildNumber {build!r} is not a build number"[:300])


def markers(reader: VolumeReader, evidence: EvidenceSet) -> None:
    for fact, path, directory, note in MARKERS:
        info = reader.stat(path)
        if info is not None and info.is_dir != directory:
            info = None  # a file where Windows keeps a directory, or the reverse: not the marker
        evidence.set(fact, info is not None)
        if info is not None:
            evidence.add(FileEvidence(fact, info.path, info.size, info.is_dir, note))


def registry_keys(evidence: EvidenceSet, hives: dict[str, HiveReading]) -> None:
    for fact, hive, key in KEYS:
        key_exists(evidence, hives[hive], fact, key)


def _pending_packages(evidence: EvidenceSet, software: HiveReading) -> list[str] | None:
    hive = software.hive
    if hive is None:
        return None
    states = hive.subkey_values(CBS_PACKAGES, "CurrentState", MAX_CBS_PACKAGES + 1)
    if states is None:
        return None  # every Windows has the key; without it the state is unknown
    if len(states) > MAX_CBS_PACKAGES:
        evidence.warnings.append(f"SOFTWARE\\{CBS_PACKAGES}: more than {MAX_CBS_PACKAGES} packages; only the first "
                                 f"{MAX_CBS_PACKAGES} were read")
    pending = []
    for name, state in states[:MAX_CBS_PACKAGES]:
        if state is not None and isinstance(state.value, int) and state.value in CBS_PENDING_STATES:
            pending.append(name)
            evidence.add(RegistryEvidence("servicing.packages_pending", "SOFTWARE", f"{CBS_PACKAGES}\\{name}",
                                          "CurrentState", f"{state.value:#x} ({CBS_PENDING_STATES[state.value]})",
                                          state.type))
    return pending


def _field(record: dict[str, object], name: str) -> str:
    """A UserData/EventData field, whatever element wraps it (dissect names it ``<Element>_<name>``)."""
    for key, value in record.items():
        if key == name or key.endswith("_" + name):
            return "" if value is None else str(value)
    return ""


def _feature_events(reader: VolumeReader, evidence: EvidenceSet) -> None:
    """Event 7 ("initiating changes to turn on update %1 of package %2") with no completion after it: no event
    9 (turned on) or 11 (failed to be turned on) for the same update and package."""
    found = reader.read(SETUP_EVTX, MAX_EVTX_BYTES)
    evidence.set("servicing.feature_events", [] if found is not None else None)
    if found is None:
        return
    scan = read_events(found[0], SETUP_EVTX)
    evidence.warnings.extend(scan.warnings)
    servicing = [record for record in scan.records if record.get("Provider_Name") == SERVICING_PROVIDER]
    servicing.sort(key=lambda record: record_id if isinstance(record_id := record.get("EventRecordID"), int) else 0)
    open_changes: dict[tuple[str, str], str] = {}
    for record in servicing:
        change = (_field(record, "UpdateName"), _field(record, "PackageIdentifier"))
        if record.get("EventID") in FEATURE_COMPLETED_IDS:
            open_changes.pop(change, None)
        elif record.get("EventID") == FEATURE_EVENT_ID:
            when = record.get("TimeCreated_SystemTime")
            client = _field(record, "Client")
            open_changes.pop(change, None)  # a newer attempt replaces an older one
            open_changes[change] = ((f"{when:%Y-%m-%d %H:%M:%S} " if isinstance(when, datetime) else "")
                                    + f"turn on update {change[0]} of package {change[1]}: initiated, not completed"
                                    + (f" (client {client})" if client else ""))
    lines = list(open_changes.values())
    evidence.set("servicing.feature_events", lines[-MAX_FEATURE_EVENTS:])
    if lines:
        evidence.add(LogEvidence("servicing.feature_events", SETUP_EVTX, tuple(lines[-MAX_FEATURE_EVENTS:]),
                                 len(lines) > MAX_FEATURE_EVENTS or found[1]))


def servicing(reader: VolumeReader, evidence: EvidenceSet, software: HiveReading) -> None:
    packages = None
    with evidence.reading(f"SOFTWARE\\{CBS_PACKAGES}"):
        packages = _pending_packages(evidence, software)
    evidence.set("servicing.packages_pending", packages)
    _feature_events(reader, evidence)
    parts = [evidence.get("servicing.pending_xml"), evidence.get("servicing.reboot_pending"),
             bool(packages) if packages is not None else None]
    evidence.set("servicing.pending", True if any(parts) else None if None in parts else False)


def sql_server(evidence: EvidenceSet, software: HiveReading) -> None:
    evidence.set("sql.installed", None)
    evidence.set("sql.instances", None)
    if software.hive is None:
        return
    with evidence.reading(f"SOFTWARE\\{SQL_INSTANCES}"):
        named = [value for value in software.hive.values(SQL_INSTANCES) or [] if value.name]
        evidence.set("sql.installed", bool(named))
        evidence.set("sql.instances", [value.name for value in named])
        for value in named:
            evidence.add(RegistryEvidence("sql.instances", "SOFTWARE", SQL_INSTANCES, value.name, value.value,
                                          value.type))


def volume_space(evidence: EvidenceSet, volume: NtfsVolume | None) -> None:
    """Free space from the volume's $Bitmap; unknown (None) without vhdfix's own NTFS reader."""
    for fact in ("volume.size_bytes", "volume.free_bytes", "volume.free_percent"):
        evidence.set(fact, None)
    if volume is None:
        return
    with evidence.reading("free space"):
        space = free_space(volume)
        evidence.set("volume.size_bytes", space.size_bytes)
        evidence.set("volume.free_bytes", space.free_bytes)
        evidence.set("volume.free_percent", space.free_percent)
        evidence.add(FileEvidence("volume.free_bytes", "$Bitmap", space.bitmap_bytes,
                                  note=f"{space.free_clusters} of {space.clusters} clusters of {space.cluster_size} "
                                       f"bytes free ({space.free_percent}%)"))


def boot_configuration(evidence: EvidenceSet, bcd: BcdReading | None) -> None:
    for fact in ("bcd.location", "bcd.default_loader", "bcd.safeboot"):
        evidence.set(fact, None)
    if bcd is None:
        return
    evidence.warnings.extend(bcd.warnings)
    evidence.set("bcd.location", bcd.location)
    evidence.add(FileEvidence("bcd.location", bcd.location, bcd.size, note=f"partition {bcd.partition.number}, hive "
                              + (bcd.hive.state if bcd.hive else "unreadable")))
    if bcd.hive is None:
        return
    with evidence.reading("BCD"):
        _boot_loader(evidence, bcd.hive)


def _boot_loader(evidence: EvidenceSet, hive: Hive) -> None:
    """The {bootmgr} default loader and its safeboot element."""
    loader = bcd_element(hive, BOOTMGR, DEFAULT_OBJECT)
    if not isinstance(loader, str) or not loader:
        return
    evidence.set("bcd.default_loader", loader)
    evidence.add(RegistryEvidence("bcd.default_loader", "BCD", f"Objects\\{BOOTMGR}\\Elements\\{DEFAULT_OBJECT}",
                                  "Element", loader, "REG_SZ"))
    safeboot = bcd_element(hive, loader, SAFEBOOT)
    if safeboot is None:
        return
    # Integer elements are stored as REG_BINARY, a little-endian QWORD (BCD element format "integer")
    value = int.from_bytes(safeboot, "little") if isinstance(safeboot, bytes) and len(safeboot) == 8 else safeboot
    if not isinstance(value, int):
        evidence.warnings.append(f"BCD: {loader} element {SAFEBOOT} is not an 8-byte integer: {safeboot!r}"[:300])
    else:
        evidence.set("bcd.safeboot", value)
        evidence.add(RegistryEvidence("bcd.safeboot", "BCD", f"Objects\\{loader}\\Elements\\{SAFEBOOT}", "Element",
                                      f"{value} ({SAFEBOOT_NAMES.get(value, 'unknown')})", "REG_BINARY"))
