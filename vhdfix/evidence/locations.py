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
)

SOFTWARE_VALUES = (
    ("image_state.registry", "Microsoft\\Windows\\CurrentVersion\\Setup\\State", "ImageState"),
    ("os.ProductName", "Microsoft\\Windows NT\\CurrentVersion", "ProductName"),
    ("os.EditionID", "Microsoft\\Windows NT\\CurrentVersion", "EditionID"),
    ("os.CurrentBuild", "Microsoft\\Windows NT\\CurrentVersion", "CurrentBuild"),
    ("os.DisplayVersion", "Microsoft\\Windows NT\\CurrentVersion", "DisplayVersion"),
)


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
