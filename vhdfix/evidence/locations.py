"""Where the evidence lives on the Windows volume (azure-articles.md §3.3, §4, §5, §7).

Paths are Windows-style, relative to the volume root, looked up case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass

# (fact, hive key, value name); keys of SYSTEM are at the hive root, CurrentControlSet is resolved.
SYSTEM_VALUES = (
    ("setup.SetupType", "Setup", "SetupType"),
    ("setup.CmdLine", "Setup", "CmdLine"),
    ("setup.OOBEInProgress", "Setup", "OOBEInProgress"),
    ("setup.SystemSetupInProgress", "Setup", "SystemSetupInProgress"),
    ("setup.SetupPhase", "Setup", "SetupPhase"),
    ("setup.UnattendFile", "Setup", "UnattendFile"),
    ("setup.ChildCompletion.setup.exe", "Setup\\Status\\ChildCompletion", "setup.exe"),
    ("sysprep.GeneralizationState", "Setup\\Status\\SysprepStatus", "GeneralizationState"),
    ("sysprep.CleanupState", "Setup\\Status\\SysprepStatus", "CleanupState"),
    ("system.ComputerName", "CurrentControlSet\\Control\\ComputerName\\ComputerName", "ComputerName"),
    # A domain controller: what repair-script-library's win-toggle-safe-mode checks (azure-articles.md §9.1) [MS]
    ("dc.ntds_database", "CurrentControlSet\\Services\\NTDS\\Parameters", "DSA Database file"),
    # The memory-dump settings the "collect a dump" articles set (azure-articles.md §10.3) [MS]
    ("dump.crash_dump_enabled", "CurrentControlSet\\Control\\CrashControl", "CrashDumpEnabled"),
    ("dump.nmi_crash_dump", "CurrentControlSet\\Control\\CrashControl", "NMICrashDump"),
    ("dump.dump_file", "CurrentControlSet\\Control\\CrashControl", "DumpFile"),
)

SOFTWARE_VALUES = (
    ("image_state.registry", "Microsoft\\Windows\\CurrentVersion\\Setup\\State", "ImageState"),
    ("os.ProductName", "Microsoft\\Windows NT\\CurrentVersion", "ProductName"),
    ("os.EditionID", "Microsoft\\Windows NT\\CurrentVersion", "EditionID"),
    ("os.CurrentBuild", "Microsoft\\Windows NT\\CurrentVersion", "CurrentBuild"),
    ("os.DisplayVersion", "Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion"),
    ("os.build", "Microsoft\\Windows NT\\CurrentVersion", "CurrentBuildNumber"),  # REG_SZ; made an int
    ("os.product_name", "Microsoft\\Windows NT\\CurrentVersion", "ProductName"),
    ("os.installation_type", "Microsoft\\Windows NT\\CurrentVersion", "InstallationType"),
    # The policy the CleanupProfiles articles delete (azure-articles.md §8) [MS]
    ("policy.cleanup_profiles", "Policies\\Microsoft\\Windows\\System", "CleanupProfiles"),
)

# Key-existence facts: (fact, hive, key)
KEYS = (
    ("servicing.reboot_pending", "SOFTWARE",
     "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending"),
    ("upgrade.setupdiag_results", "SYSTEM", "Setup\\SetupDiag\\Results"),  # azure-articles.md §8 INPLACE_UPGRADE
)

# Files and directories whose existence is the fact: (fact, path, is a directory, note)
MARKERS = (
    ("servicing.pending_xml", "Windows\\WinSxS\\pending.xml", False, "servicing operations waiting for a restart"),
    ("upgrade.windows_bt", "$WINDOWS.~BT", True, "in-place upgrade working directory"),
    ("dump.memory_dmp", "Windows\\MEMORY.DMP", False, "a kernel memory dump"),
)

CBS_PACKAGES = "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages"
# CurrentState of a CBS package, as stored in the registry. Source: Microsoft, "Tip of the Day: CBS Servicing
# States Chart - Refresher" (TechNet blog, 2015-10-12; learn.microsoft.com/archive/blogs/tip_of_the_day) [MS].
# The pending and in-progress states; Absent 0x0, Resolved 0x20, Staged 0x40, Superseded 0x50, Partially
# Installed 0x65, Installed 0x70 and Permanent 0x80 are settled states.
CBS_PENDING_STATES = {0x05: "Uninstall Pending", 0x10: "Resolving", 0x30: "Staging", 0x60: "Install Pending"}
MAX_CBS_PACKAGES = 20_000  # a long-serviced server has a few thousand

SQL_INSTANCES = "Microsoft\\Microsoft SQL Server\\Instance Names\\SQL"  # value name = instance name

SETUP_EVTX = "Windows\\System32\\winevt\\Logs\\Setup.evtx"
SERVICING_PROVIDER = "Microsoft-Windows-Servicing"
# Event 7: "Initiating changes to turn on update %1 of package %2. Client id: %4." (the provider's manifest);
# azure-vm-cannot-rdp-working-features.md looks for it to find the feature being installed [MS].
FEATURE_EVENT_ID = 7
# 9: "Selectable update %1 of package %2 was successfully turned on"; 11: "Update %1 of package %2 failed to be
# turned on" (same manifest): the change event 7 started is over.
FEATURE_COMPLETED_IDS = (9, 11)
MAX_FEATURE_EVENTS = 20


@dataclass(frozen=True)
class PaFile:
    fact: str
    path: str
    note: str


# The Azure provisioning agent's files (azure-articles.md §3.3; most locations are community knowledge).
PROVISIONING_AGENT_FILES = (
    PaFile("pa.unattend_wsf", "Windows\\OEM\\Unattend.wsf", "the provisioning agent's answer script [MS name]"),
    PaFile("pa.unattend_wsf_exe", "Windows\\OEM\\Unattend.wsf.exe", "compiled provisioning agent [inf]"),
    PaFile("pa.oem_error_handler", "Windows\\OEM\\ErrorHandler.cmd", "Azure OEM error handler [3P]"),
    PaFile("pa.oem_setup_complete", "Windows\\OEM\\SetupComplete.cmd", "provisioning agent chain [3P]"),
    PaFile("pa.oem_setup_complete2", "Windows\\OEM\\SetupComplete2.cmd", "customer hook after the chain [3P]"),
    PaFile("pa.scripts_setup_complete", "Windows\\Setup\\Scripts\\SetupComplete.cmd", "Setup hook [MS]"),
    PaFile("pa.scripts_error_handler", "Windows\\Setup\\Scripts\\ErrorHandler.cmd", "Setup fatal-error hook [MS]"),
    PaFile("pa.wasetup_log", "Windows\\Panther\\WaSetup.log", "provisioning agent log [MS]"),
    PaFile("pa.wasetup_xml", "Windows\\Panther\\WaSetup.xml", "provisioning agent log [MS]"),
    PaFile("pa.azure_data", "AzureData", "custom data written at provisioning [MS collected]"),
)

SETUP_HOOKS = ("Windows\\Setup\\Scripts\\SetupComplete.cmd", "Windows\\Setup\\Scripts\\ErrorHandler.cmd",
               "Windows\\OEM\\SetupComplete.cmd", "Windows\\OEM\\ErrorHandler.cmd")
WASETUP_LOG = "Windows\\Panther\\WaSetup.log"


@dataclass(frozen=True)
class AnswerFileLocation:
    order: int  # Windows' implicit search order (azure-articles.md §4)
    paths: tuple[str, ...]
    custom: bool  # an answer file here was put there by someone, not by Setup or the Azure agent


ANSWER_FILE_LOCATIONS = (
    AnswerFileLocation(2, ("Windows\\Panther\\Unattend\\Unattend.xml", "Windows\\Panther\\Unattend\\Autounattend.xml"),
                       True),
    AnswerFileLocation(3, ("Windows\\Panther\\Unattend.xml",), False),
    AnswerFileLocation(6, ("Windows\\System32\\Sysprep\\Unattend.xml", "Windows\\System32\\Sysprep\\Autounattend.xml"),
                       True),
    AnswerFileLocation(7, ("Unattend.xml", "Autounattend.xml"), True),
)

STATE_INI = "Windows\\Setup\\State\\State.ini"
SYSPREP_SUCCEEDED_TAG = "Windows\\System32\\Sysprep\\Sysprep_succeeded.tag"
SYSPREP_SETUPACT = "Windows\\System32\\Sysprep\\Panther\\setupact.log"


@dataclass(frozen=True)
class SetupLog:
    fact: str
    path: str
    errors_only: bool  # setupact logs mix progress with errors; keep only the error lines


SETUP_LOGS = (
    SetupLog("logs.panther_setuperr", "Windows\\Panther\\setuperr.log", False),
    SetupLog("logs.panther_setupact", "Windows\\Panther\\setupact.log", True),
    SetupLog("logs.unattendgc_setupact", "Windows\\Panther\\UnattendGC\\setupact.log", True),
    SetupLog("logs.sysprep_setuperr", "Windows\\System32\\Sysprep\\Panther\\setuperr.log", False),
)

# Decisive lines (azure-articles.md §7.2): pattern id -> regular expression (case-insensitive), searched in each
# line. "A, then later B" is written ``^(?=(.*?A))\1.*B``: the lookahead settles on the first A for good, so a line
# of many A without B costs one pass, where ``A.*B`` would rescan the rest of the line from every A.
DECISIVE_PATTERNS = {
    "sysprep-invalid-state": r"RunExternalDlls:Not running DLLs; either the machine is in an invalid state",
    "sysprep-rearm-limit": r"SLReArmWindows|hr = 0xc004d307",
    "sysprep-appx-not-provisioned": r"was installed for a user, but not provisioned for all users|0x80073cf2",
    "sysprep-bitlocker": r"0x80310039",
    "sysprep-external-provider": r"SYSPRP LaunchDll:\s*Failure occurred while executing",
    "sysprep-generalize-validate": r"^(?=(.*?Error in validating actions from ))\1.*Generalize\.xml",
    "oobe-profile-copy": r"\[Shell Unattend\] (_FindLatestProfile|CopyProfile) failed",
    "setup-fatal": r"^(?=(.*?\[setup\.exe\]))\1.*(fatal|failed)|Setup encountered a fatal error",
    "specialize-failed": r"^(?=(.*?specialize))\1.*(fail|error)|^(?=(.*?\[Specialize\]))\3.*error",
    "oobe-failed": r"^(?=(.*?\[(windeploy\.exe|msoobe\.exe|oobeldr\.exe)\]))\1.*(fail|error)",
}

MAX_LOG_BYTES = 4 * 1024 * 1024  # a log is read from its end, at most this much
MAX_SCRIPT_BYTES = 256 * 1024
MAX_DECISIVE_LINES = 20
