"""Remedy actions: what one remedy step of an article does, parsed once from ``articles/*.toml`` into a type.

Each action knows whether it writes the disk and which files of the Windows
volume it touches; the writer plans the ones that write, and the verifier
expects exactly those files to change. In an article::

    action = { type = "manual" }
    action = { type = "delete-files", paths = ["Windows\\\\OEM\\\\Unattend.wsf"] }
    action = { type = "set-values", values = [
        { hive = "SYSTEM", key = "Setup", name = "SetupType", value = 0, value_type = "REG_DWORD" },
        { hive = "SYSTEM", key = "ControlSet001\\Control\\CrashControl", name = "NMICrashDump", value = 1,
          value_type = "REG_DWORD", create = true },
    ] }
    action = { type = "delete-values", values = [
        { hive = "SOFTWARE", key = "Policies\\Microsoft\\Windows\\System", name = "CleanupProfiles" },
    ] }
    action = { type = "delete-bcd-elements", elements = [{ object = "{default}", element = "25000080" }] }

Adding an action: a class here (registered in :data:`ACTION_TYPES`), its
planning in :mod:`vhdfix.writer.planner`, what the verifier must find in
:mod:`vhdfix.verify.structures`, and the articles that use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from vhdfix.errors import ArticleInvalid

HIVE_DIRECTORY = "Windows\\System32\\config"
VALUE_TYPES = ("REG_DWORD", "REG_SZ", "REG_EXPAND_SZ")


@dataclass(frozen=True)
class Action:
    """The base of every action; ``kind`` is its ``type`` in the article files."""

    kind: ClassVar[str]
    writes_disk: ClassVar[bool]

    @property
    def removed_files(self) -> tuple[str, ...]:
        """Files of the Windows volume (Windows-style paths) this action removes."""
        return ()

    @property
    def changed_files(self) -> tuple[str, ...]:
        """Files of the Windows volume whose content this action changes."""
        return ()

    def to_json(self) -> dict[str, object]:
        return {"type": self.kind}


@dataclass(frozen=True)
class ManualAction(Action):
    """Something the user does (a VM setting, restoring a backup); vhdfix writes nothing for it."""

    kind: ClassVar[str] = "manual"
    writes_disk: ClassVar[bool] = False

    @classmethod
    def parse(cls, data: dict[str, Any], where: str) -> ManualAction:
        return cls()


@dataclass(frozen=True)
class DeleteFiles(Action):
    kind: ClassVar[str] = "delete-files"
    writes_disk: ClassVar[bool] = True

    paths: tuple[str, ...]

    @classmethod
    def parse(cls, data: dict[str, Any], where: str) -> DeleteFiles:
        paths = data.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(path, str) and path for path in paths):
            raise ArticleInvalid(f"{where}: a delete-files action needs a non-empty list of 'paths'")
        return cls(tuple(paths))

    @property
    def removed_files(self) -> tuple[str, ...]:
        return self.paths

    def to_json(self) -> dict[str, object]:
        return {"type": self.kind, "paths": list(self.paths)}


def _names(data: object, where: str) -> tuple[str, str, str]:
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) and data[key]
                                             for key in ("hive", "key", "name")):
        raise ArticleInvalid(f"{where}: each value needs a 'hive', 'key' and 'name'")
    return data["hive"].upper(), data["key"], data["name"]


@dataclass(frozen=True)
class _RegistryValue:
    """A registry value named by its hive (upper case: SYSTEM, SOFTWARE), key path inside the hive, and name."""

    hive: str
    key: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.hive}\\{self.key}\\{self.name}"

    @property
    def hive_path(self) -> str:
        return f"{HIVE_DIRECTORY}\\{self.hive}"

    def to_json(self) -> dict[str, object]:
        return {"hive": self.hive, "key": self.key, "name": self.name}


@dataclass(frozen=True)
class ValueSetting(_RegistryValue):
    """One registry value a ``set-values`` action sets: ``{hive, key, name, value, value_type}``, and
    ``create = true`` when the value may be created (in free space of the hive's existing bins)."""

    value: int | str
    value_type: str  # one of VALUE_TYPES
    create: bool = False

    @classmethod
    def parse(cls, data: object, where: str) -> ValueSetting:
        hive, key, name = _names(data, where)
        assert isinstance(data, dict)
        value_type, value = data.get("value_type"), data.get("value")
        if value_type not in VALUE_TYPES:
            raise ArticleInvalid(f"{where}: 'value_type' must be one of {', '.join(VALUE_TYPES)}")
        expected: type = int if value_type == "REG_DWORD" else str
        if not isinstance(value, expected) or isinstance(value, bool) or \
                (expected is int and not 0 <= value <= 0xFFFFFFFF):
            raise ArticleInvalid(f"{where}: a {value_type} 'value' must be "
                                 f"{'a number from 0 to 4294967295' if expected is int else 'a string'}")
        create = data.get("create", False)
        if not isinstance(create, bool):
            raise ArticleInvalid(f"{where}: 'create' must be true or false")
        return cls(hive, key, name, value, value_type, create)

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "value": self.value, "value_type": self.value_type,
                **({"create": True} if self.create else {})}


@dataclass(frozen=True)
class ValueName(_RegistryValue):
    """One registry value a ``delete-values`` action deletes: ``{hive, key, name}``."""

    @classmethod
    def parse(cls, data: object, where: str) -> ValueName:
        return cls(*_names(data, where))


@dataclass(frozen=True)
class _RegistryValuesAction(Action):
    """An action over a non-empty list of registry values; it changes the hives they are in."""

    writes_disk: ClassVar[bool] = True
    item: ClassVar[type[ValueSetting] | type[ValueName]]

    values: tuple[Any, ...]

    @classmethod
    def parse(cls, data: dict[str, Any], where: str) -> Any:
        values = data.get("values")
        if not isinstance(values, list) or not values:
            raise ArticleInvalid(f"{where}: a {cls.kind} action needs a non-empty list of 'values'")
        return cls(tuple(cls.item.parse(value, f"{where} values[{index}]") for index, value in enumerate(values)))

    @property
    def changed_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value.hive_path for value in self.values))

    def to_json(self) -> dict[str, object]:
        return {"type": self.kind, "values": [value.to_json() for value in self.values]}


@dataclass(frozen=True)
class SetValues(_RegistryValuesAction):
    """Registry values changed in place, or created in free cells of the hive's existing bins (``create``)."""

    kind: ClassVar[str] = "set-values"
    item: ClassVar[type[ValueSetting]] = ValueSetting

    values: tuple[ValueSetting, ...]


@dataclass(frozen=True)
class DeleteValues(_RegistryValuesAction):
    """Registry values deleted (``reg delete <key> /v <name> /f``): their cells freed, their key's list shortened."""

    kind: ClassVar[str] = "delete-values"
    item: ClassVar[type[ValueName]] = ValueName

    values: tuple[ValueName, ...]


@dataclass(frozen=True)
class BcdElement:
    """An element of a BCD object: ``object`` is ``{default}`` (the boot manager's default entry) or a GUID in
    braces, ``element`` the element type as 8 hex digits (``25000080`` is ``safeboot``)."""

    object: str
    element: str

    def to_json(self) -> dict[str, object]:
        return {"object": self.object, "element": self.element}


_GUID = re.compile(r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}")


@dataclass(frozen=True)
class DeleteBcdElements(Action):
    """``bcdedit /store <BCD> /deletevalue <object> <element>``: the element's key deleted from the BCD hive
    (``Boot\\BCD`` on an NTFS system volume, or ``EFI\\Microsoft\\Boot\\BCD`` on a FAT32 ESP), in place."""

    kind: ClassVar[str] = "delete-bcd-elements"
    writes_disk: ClassVar[bool] = True

    elements: tuple[BcdElement, ...]

    @classmethod
    def parse(cls, data: dict[str, Any], where: str) -> DeleteBcdElements:
        elements = data.get("elements")
        if not isinstance(elements, list) or not elements:
            raise ArticleInvalid(f"{where}: a delete-bcd-elements action needs a non-empty list of 'elements'")
        parsed = []
        for index, element in enumerate(elements):
            if not isinstance(element, dict) or not isinstance(element.get("object"), str) \
                    or not isinstance(element.get("element"), str):
                raise ArticleInvalid(f"{where} elements[{index}]: needs an 'object' and an 'element'")
            name, kind = element["object"], element["element"]
            if name.lower() != "{default}" and not _GUID.fullmatch(name):
                raise ArticleInvalid(f"{where} elements[{index}]: 'object' must be {{default}} or a GUID in braces")
            if not re.fullmatch(r"[0-9a-fA-F]{8}", kind):
                raise ArticleInvalid(f"{where} elements[{index}]: 'element' must be 8 hex digits")
            parsed.append(BcdElement(name.lower(), kind.upper()))
        return cls(tuple(parsed))

    @property
    def changed_files(self) -> tuple[str, ...]:
        return ("Boot\\BCD",)  # when the Windows volume is also the system volume (no System Reserved partition)

    def to_json(self) -> dict[str, object]:
        return {"type": self.kind, "elements": [element.to_json() for element in self.elements]}


ACTION_TYPES: dict[str, type[ManualAction | DeleteFiles | SetValues | DeleteValues | DeleteBcdElements]] = {
    action.kind: action for action in (ManualAction, DeleteFiles, SetValues, DeleteValues, DeleteBcdElements)
}


def parse_action(data: object, where: str) -> Action:
    """The typed action of ``data`` (an ``action`` table of an article); ArticleInvalid when malformed."""
    if not isinstance(data, dict):
        raise ArticleInvalid(f"{where}: 'action' is required and must be a table")
    kind = data.get("type")
    action_type = ACTION_TYPES.get(kind) if isinstance(kind, str) else None
    if action_type is None:
        raise ArticleInvalid(f"{where}: action type must be one of {', '.join(ACTION_TYPES)}")
    return action_type.parse(data, where)
