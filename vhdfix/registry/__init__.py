"""Registry hives: transaction-log recovery and value lookups on offline hives."""

from vhdfix.registry.hive import Hive, RegistryKey, open_hive
from vhdfix.registry.log_file import LogReport
from vhdfix.registry.recovery import RecoveryResult, recover
from vhdfix.registry.values import RegistryValue

__all__ = ["Hive", "LogReport", "RecoveryResult", "RegistryKey", "RegistryValue", "open_hive", "recover"]
