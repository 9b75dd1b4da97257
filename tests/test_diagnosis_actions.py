"""Remedy actions are parsed once, in the catalogue, into typed objects that say what they write and touch."""

from __future__ import annotations

import pytest

from vhdfix.diagnosis import load_catalog
from vhdfix.diagnosis.actions import ACTION_TYPES, DeleteFiles, ManualAction, SetValues, ValueSetting, parse_action
from vhdfix.errors import ArticleInvalid

SETUP_TYPE = {"hive": "system", "key": "Setup", "name": "SetupType", "value": 0, "value_type": "REG_DWORD"}
CMD_LINE = {"hive": "SYSTEM", "key": "Setup", "name": "CmdLine", "value": "", "value_type": "REG_SZ"}
IMAGE_STATE = {"hive": "SOFTWARE", "key": "Microsoft\\Windows\\CurrentVersion\\Setup\\State", "name": "ImageState",
               "value": "IMAGE_STATE_COMPLETE", "value_type": "REG_SZ"}


def test_each_action_knows_whether_it_writes_the_disk_and_what_it_touches() -> None:
    manual = parse_action({"type": "manual"}, "t")
    delete = parse_action({"type": "delete-files", "paths": ["Windows\\OEM\\Unattend.wsf", "a\\b"]}, "t")
    values = parse_action({"type": "set-values", "values": [SETUP_TYPE, CMD_LINE, IMAGE_STATE]}, "t")
    assert manual == ManualAction() and not manual.writes_disk
    assert manual.removed_files == manual.changed_files == ()
    assert isinstance(delete, DeleteFiles) and delete.writes_disk
    assert delete.removed_files == ("Windows\\OEM\\Unattend.wsf", "a\\b") and delete.changed_files == ()
    assert isinstance(values, SetValues) and values.writes_disk and values.removed_files == ()
    assert values.changed_files == ("Windows\\System32\\config\\SYSTEM", "Windows\\System32\\config\\SOFTWARE")
    assert values.values[0] == ValueSetting("SYSTEM", "Setup", "SetupType", 0, "REG_DWORD")  # hive names upper case
    assert values.values[0].label == "SYSTEM\\Setup\\SetupType"


def test_an_action_prints_as_its_article_states_it() -> None:
    for data in ({"type": "manual"}, {"type": "delete-files", "paths": ["x"]},
                 {"type": "set-values", "values": [CMD_LINE, IMAGE_STATE]}):
        assert parse_action(data, "t").to_json() == data


@pytest.mark.parametrize(("data", "problem"), [
    ({"type": "delete-values", "values": []}, "non-empty list of 'values'"),
    ({"type": "delete-values", "values": [{"hive": "SOFTWARE", "key": "K"}]}, "'hive', 'key' and 'name'"),
    ({"type": "delete-bcd-elements", "elements": [{"object": "default", "element": "25000080"}]}, "GUID in braces"),
    ({"type": "delete-bcd-elements", "elements": [{"object": "{default}", "element": "safeboot"}]}, "8 hex digits"),
    ({"type": "set-values", "values": [{**CMD_LINE, "create": "yes"}]}, "'create' must be true or false"),
    (None, "must be a table"),
    ({"type": "format-disk"}, "action type must be one of"),
    ({"type": ["manual"]}, "action type must be one of"),
    ({}, "action type must be one of"),
    ({"type": "delete-files"}, "non-empty list of 'paths'"),
    ({"type": "delete-files", "paths": []}, "non-empty list of 'paths'"),
    ({"type": "delete-files", "paths": ["ok", ""]}, "non-empty list of 'paths'"),
    ({"type": "delete-files", "paths": "Windows\\OEM\\Unattend.wsf"}, "non-empty list of 'paths'"),
    ({"type": "set-values", "values": []}, "non-empty list of 'values'"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "hive": 1}]}, "needs a 'hive', 'key' and 'name'"),
    ({"type": "set-values", "values": ["SetupType=0"]}, "needs a 'hive', 'key' and 'name'"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "value_type": "REG_BINARY"}]}, "'value_type' must be one"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "value": -1}]}, "a number from 0 to 4294967295"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "value": 1 << 32}]}, "a number from 0 to 4294967295"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "value": True}]}, "a number from 0 to 4294967295"),
    ({"type": "set-values", "values": [{**SETUP_TYPE, "value": "0"}]}, "a number from 0 to 4294967295"),
    ({"type": "set-values", "values": [{**CMD_LINE, "value": 0}]}, "must be a string"),
    ({"type": "set-values", "values": [{k: v for k, v in CMD_LINE.items() if k != "value"}]}, "must be a string"),
])
def test_a_malformed_action_is_refused_when_the_catalogue_loads(data: object, problem: str) -> None:
    with pytest.raises(ArticleInvalid, match=problem) as refused:
        parse_action(data, "x.toml remedy[0]")
    assert refused.value.code == "article-invalid" and refused.value.message.startswith("x.toml remedy[0]")


def test_every_action_in_the_bundled_articles_is_typed() -> None:
    kinds = {step.action.kind for article in load_catalog() for step in article.remedy}
    assert kinds == set(ACTION_TYPES)
    for article in load_catalog():
        for step in article.remedy:
            assert step.writes_disk == step.action.writes_disk
            assert step.extended == (step.writes_disk and (not step.documented or step.on_request))
