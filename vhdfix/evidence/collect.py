"""Collect the evidence the article rules need from a Windows installation's files and its hives."""

from __future__ import annotations

import re

from vhdfix.evidence.locations import (
    ANSWER_FILE_LOCATIONS,
    DECISIVE_PATTERNS,
    MAX_DECISIVE_LINES,
    MAX_LOG_BYTES,
    MAX_SCRIPT_BYTES,
    PROVISIONING_AGENT_FILES,
    SETUP_HOOKS,
    SETUP_LOGS,
    SOFTWARE_VALUES,
    STATE_INI,
    SYSPREP_SETUPACT,
    SYSPREP_SUCCEEDED_TAG,
    SYSTEM_VALUES,
    WASETUP_LOG,
)
from vhdfix.evidence.model import EvidenceSet, FileEvidence, LogEvidence, RegistryEvidence
from vhdfix.evidence.reader import VolumeReader
from vhdfix.evidence.signals import (
    boot_configuration,
    markers,
    os_build,
    registry_keys,
    servicing,
    sql_server,
    volume_space,
)
from vhdfix.ntfs import NtfsVolume
from vhdfix.windows.bcd import BcdReading
from vhdfix.windows.files import WindowsFiles
from vhdfix.windows.hives import HiveReading

# A Panther log line is "<date> <time>, <Level> [<component>] text"; error lines have level Error or Fatal,
# and some tools log failures at level Info with the words below.
ERROR_LINE = re.compile(r",\s*(Error|Fatal)\b|\b(failed|failure|fatal error)\b", re.IGNORECASE)
PA_CHAIN_LINE = re.compile(r"SetupComplete|ErrorHandler|Unattend\.wsf|ReportReady|WaGuest", re.IGNORECASE)
ERROR_HANDLER_LINE = re.compile(r"ErrorHandler", re.IGNORECASE)
CALL_LINE = re.compile(r"^\s*(call|start|cscript|wscript|powershell|cmd)\b|\.(cmd|bat|wsf|ps1|exe)\b",
                       re.IGNORECASE)
STATE_INI_LINE = re.compile(r'^[ \t]*ImageState[ \t]*=[ \t]*"?([A-Z_ ]+?)"?[ \t]*$', re.IGNORECASE | re.MULTILINE)
UNATTEND_SWITCH = re.compile(r"/unattend:", re.IGNORECASE)
OOBE_PENDING_STATES = ("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE", "IMAGE_STATE_SPECIALIZE_RESEAL_TO_OOBE",
                       "IMAGE_STATE_UNDEPLOYABLE")


def _registry(evidence: EvidenceSet, reading: HiveReading,
              values: tuple[tuple[str, str, str], ...]) -> None:
    hive = reading.hive
    for fact, key, name in values:
        evidence.set(fact, None)
        if hive is None:
            continue
        found = None
        with evidence.reading(f"{reading.name}\\{key}\\{name}"):
            found = hive.value(key, name)
        if found is None:
            continue
        evidence.set(fact, found.value)
        shown = key
        if key.lower().startswith("currentcontrolset\\") and hive.current_control_set:
            shown = hive.current_control_set + key[len("CurrentControlSet"):]  # the set Select\Current names
        evidence.add(RegistryEvidence(fact, reading.name, shown, name, found.value, found.type))


def _provisioning_agent(reader: VolumeReader, evidence: EvidenceSet) -> None:
    present = 0
    for pa_file in PROVISIONING_AGENT_FILES:
        info = reader.stat(pa_file.path)
        evidence.set(pa_file.fact, info is not None)
        if info is None:
            continue
        present += 1
        evidence.add(FileEvidence(pa_file.fact, pa_file.path, info.size, info.is_dir, pa_file.note))
        if info.is_dir:
            for child in reader.list_dir(pa_file.path)[:20]:
                evidence.add(FileEvidence(pa_file.fact, child.path, child.size, child.is_dir))
    evidence.set("pa.remnants", present)

    calls_oem = False
    for hook in SETUP_HOOKS:
        found = reader.lines(hook, MAX_SCRIPT_BYTES)
        if found is None:
            continue
        calls = [line.strip() for line in found[0] if CALL_LINE.search(line) and not line.lstrip().lower()
                 .startswith(("rem", "::"))]
        calls_oem |= any("\\oem\\" in line.lower() for line in calls)
        if calls:
            evidence.add(LogEvidence("pa.hook_calls", hook, tuple(calls[:MAX_DECISIVE_LINES]), found[1]))
    evidence.set("pa.hooks_call_oem", calls_oem)

    log = reader.lines(WASETUP_LOG, MAX_LOG_BYTES, tail=True)
    chain = [line for line in (log[0] if log else []) if PA_CHAIN_LINE.search(line)]
    evidence.set("pa.error_handler_ran", any(ERROR_HANDLER_LINE.search(line) for line in chain))
    evidence.set("pa.error_handler_last", bool(chain) and bool(ERROR_HANDLER_LINE.search(chain[-1])))
    if chain:
        evidence.add(LogEvidence("pa.error_handler_last", WASETUP_LOG, tuple(chain[-MAX_DECISIVE_LINES:]),
                                 log[1] if log else False))


def _answer_files(reader: VolumeReader, evidence: EvidenceSet) -> None:
    found: list[str] = []
    custom: list[str] = []
    registry_file = evidence.get("setup.UnattendFile")
    if isinstance(registry_file, str) and registry_file.strip():
        found.append(registry_file)
        custom.append(registry_file)
    for location in ANSWER_FILE_LOCATIONS:
        for path in location.paths:
            info = reader.stat(path)
            if info is None or info.is_dir:
                continue
            found.append(path)
            note = f"answer-file search location #{location.order}"
            if location.custom:
                custom.append(path)
                note += " (custom answer file)"
            evidence.add(FileEvidence("answer_files.found", path, info.size, note=note))
    sysprep_log = reader.lines(SYSPREP_SETUPACT, MAX_LOG_BYTES, tail=True)
    switch = [line for line in (sysprep_log[0] if sysprep_log else []) if UNATTEND_SWITCH.search(line)]
    if switch:
        evidence.add(LogEvidence("sysprep.unattend_switch", SYSPREP_SETUPACT, tuple(switch[-5:])))
    evidence.set("sysprep.unattend_switch", bool(switch))
    evidence.set("answer_files.found", found)
    evidence.set("answer_files.custom", custom)


def _image_state(reader: VolumeReader, evidence: EvidenceSet) -> None:
    found = reader.lines(STATE_INI, MAX_SCRIPT_BYTES)
    ini_state = None
    if found is not None:
        match = STATE_INI_LINE.search("\n".join(found[0]))
        ini_state = match.group(1).replace(" ", "").upper() if match else None
        info = reader.stat(STATE_INI)
        evidence.add(FileEvidence("image_state.state_ini", STATE_INI, info.size if info else 0,
                                  note=f"ImageState={ini_state}" if ini_state else "no ImageState line"))
    registry_state = evidence.get("image_state.registry")
    evidence.set("image_state.state_ini", ini_state)
    evidence.set("image_state", registry_state or ini_state)
    disagree = bool(registry_state and ini_state and registry_state != ini_state)
    evidence.set("image_state.disagree", disagree)
    if disagree:
        evidence.warnings.append(f"ImageState disagrees: registry {registry_state}, State.ini {ini_state}; "
                                 "the registry value is used")
    evidence.set("image_state.oobe_pending", evidence.get("image_state") in OOBE_PENDING_STATES)


def _setup_logs(reader: VolumeReader, evidence: EvidenceSet) -> None:
    matched: set[str] = set()
    patterns = {name: re.compile(rx, re.IGNORECASE) for name, rx in DECISIVE_PATTERNS.items()}
    for log in SETUP_LOGS:
        found = reader.lines(log.path, MAX_LOG_BYTES, tail=True)
        lines = found[0] if found else []
        decisive = []
        for line in lines:
            hits = {name for name, rx in patterns.items() if rx.search(line)}
            if hits or (not log.errors_only and line.strip()) or ERROR_LINE.search(line):
                decisive.append(line)
                matched |= hits
        evidence.set(log.fact, len(decisive))
        if decisive:
            evidence.add(LogEvidence(log.fact, log.path, tuple(decisive[-MAX_DECISIVE_LINES:]),
                                     len(decisive) > MAX_DECISIVE_LINES or bool(found and found[1])))
    evidence.set("logs.patterns", sorted(matched))


def _sysprep_tag(reader: VolumeReader, evidence: EvidenceSet) -> None:
    info = reader.stat(SYSPREP_SUCCEEDED_TAG)
    evidence.set("sysprep.succeeded_tag", info is not None)
    if info is not None:
        evidence.add(FileEvidence("sysprep.succeeded_tag", SYSPREP_SUCCEEDED_TAG, info.size,
                                  note="written by Sysprep on a real generalize [3P]"))


def _derived(evidence: EvidenceSet) -> None:
    get = evidence.get
    in_progress = get("setup.SystemSetupInProgress") == 1 or get("setup.OOBEInProgress") == 1 or \
        get("setup.SetupType") in (1, 2)
    evidence.set("setup.in_progress", in_progress)
    cmdline = get("setup.CmdLine")
    evidence.set("setup.cmdline_windeploy", isinstance(cmdline, str) and "windeploy" in cmdline.lower())


def collect_evidence(files: WindowsFiles, system: HiveReading, software: HiveReading,
                     bcd: BcdReading | None = None) -> EvidenceSet:
    """Every fact of the Windows files; ``bcd`` is the boot store found elsewhere on the disk (find_bcd). Free
    space is counted only on vhdfix's own NTFS reader (a dissect.target fallback has no cluster bitmap)."""
    evidence = EvidenceSet()
    evidence.warnings.extend(system.warnings + software.warnings)
    evidence.set("hives.system", system.hive.state if system.hive else "unreadable")
    evidence.set("hives.software", software.hive.state if software.hive else "unreadable")
    _registry(evidence, system, SYSTEM_VALUES)
    _registry(evidence, software, SOFTWARE_VALUES)
    reader = VolumeReader(files, evidence)
    _image_state(reader, evidence)
    _provisioning_agent(reader, evidence)
    _answer_files(reader, evidence)
    _sysprep_tag(reader, evidence)
    _setup_logs(reader, evidence)
    _derived(evidence)
    os_build(evidence)
    markers(reader, evidence)
    registry_keys(evidence, {"SYSTEM": system, "SOFTWARE": software})
    servicing(reader, evidence, software)
    sql_server(evidence, software)
    volume_space(evidence, files if isinstance(files, NtfsVolume) else None)
    boot_configuration(evidence, bcd)
    evidence.set("linux.root", None)  # looked for only on a disk without a Windows volume (evidence.linux)
    return evidence
