"""The dissect.target plugin: ``target-query -f vhdfix.diagnose`` and ``target.vhdfix.diagnose()``."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, unpack_to
from tests.support.windows_tree import acquire_tar, copy_windows_tree

PA = "OSStartUp-PROVISIONING_AGENT"
SAMPLE = FIXTURES / "provisioning-agent.vhd"
DIRTY = FIXTURES / "provisioning-agent-dirty-hive.vhd.xz"
SYSTEM_LOGS = ("Windows\\System32\\config\\SYSTEM.LOG1", "Windows\\System32\\config\\SYSTEM.LOG2")


def target_query_script() -> Path:
    """The ``target-query`` console script installed with the dissect.target this interpreter imports."""
    dist = importlib.metadata.distribution("dissect.target")
    scripts = [Path(str(dist.locate_file(f))) for f in dist.files or () if Path(str(f)).name == "target-query"]
    assert scripts and scripts[0].is_file(), "dissect.target's target-query script is not installed"
    return scripts[0].resolve()


def target_query(*args: str | Path, env: dict[str, str] | None = None) -> list[dict]:
    """Run the installed script with this interpreter (where this vhdfix is importable); its JSON records."""
    done = subprocess.run([sys.executable, str(target_query_script()), "-q", "-j", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return [line for line in lines if line.get("_type") == "record"]


def plugin_file() -> str:
    done = subprocess.run([sys.executable, "-m", "vhdfix.dissect_plugin"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def record_of_item(item: dict) -> dict:
    """An evidence item of ``vhdfix inspect --json`` in the fields of a vhdfix/evidence record."""
    if item["kind"] == "registry":
        value = item["value"] if isinstance(item["value"], str) else json.dumps(item["value"])
        return {"fact": item["fact"], "kind": "registry", "hive": item["hive"], "key": item["key"],
                "name": item["name"], "value": value, "value_type": item["type"]}
    return {"fact": item["fact"], "kind": item["kind"], "path": item["path"], "size": item.get("size"),
            "is_dir": item.get("is_dir", False) if item["kind"] == "file" else False,
            "lines": item.get("lines", []), "truncated": item.get("truncated"), "note": item.get("note")}


def evidence_of_record(record: dict, item: dict) -> dict:
    return {key: record[key] or ([] if key == "lines" else record[key]) for key in record_of_item(item)}


def test_target_query_gives_the_same_article_and_evidence_as_inspect() -> None:
    inspected = json.loads(subprocess.run([sys.executable, "-m", "vhdfix", "inspect", "--json", str(SAMPLE)],
                                          capture_output=True, text=True).stdout)
    records = target_query("--plugin-path", plugin_file(), "-f", "vhdfix.diagnose", SAMPLE)
    diagnosis, *evidence = records
    assert diagnosis["_recorddescriptor"][0] == "vhdfix/diagnosis"
    assert diagnosis["article"] == inspected["article"] == PA
    assert diagnosis["tied"] == [PA]
    best = inspected["matches"][0]
    assert (diagnosis["confidence"], diagnosis["reasons"]) == (best["confidence"], best["reasons"])
    assert diagnosis["reader"] == "vhdfix" and diagnosis["warnings"] == inspected["warnings"]
    assert len(evidence) == len(inspected["evidence"])
    for record, item in zip(evidence, inspected["evidence"], strict=True):
        assert record["_recorddescriptor"][0] == "vhdfix/evidence"
        assert evidence_of_record(record, item) == record_of_item(item)
        assert record["exact"] is True and record["article"] == PA


def test_the_dissect_plugins_variable_finds_the_plugin_too(tmp_path: Path) -> None:
    env = {**os.environ, "DISSECT_PLUGINS": plugin_file()}
    records = target_query("-f", "vhdfix.diagnose", SAMPLE, env=env)
    assert records[0]["article"] == PA


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("collection")
    return acquire_tar(copy_windows_tree(SAMPLE, folder / "tree"), folder / "collection.tar")


def test_target_vhdfix_diagnose_on_an_acquire_tar_names_dissects_reader(collection: Path) -> None:
    from dissect.target import Target

    import vhdfix.dissect_plugin  # noqa: F401  (registers the plugin)

    diagnosis, *evidence = list(Target.open(collection).vhdfix.diagnose())
    assert diagnosis.article == PA and diagnosis.tied == [PA]
    assert diagnosis.reader == "dissect.target tar loader"
    assert "not vhdfix's own disk readers" in diagnosis.warnings[0]
    files = [record for record in evidence if record.kind != "registry"]
    registry = [record for record in evidence if record.kind == "registry"]
    assert files and all(record.reader == "dissect.target tar loader" and record.exact for record in files)
    assert registry and all(record.exact and "hive files read through dissect.target" in record.reader
                            for record in registry)


def test_target_query_on_a_dirty_hive_without_its_logs_says_it_is_not_exact(tmp_path: Path) -> None:
    tree = copy_windows_tree(unpack_to(DIRTY, tmp_path), tmp_path / "tree", skip=SYSTEM_LOGS)
    records = target_query("--plugin-path", plugin_file(), "-f", "vhdfix.diagnose",
                           acquire_tar(tree, tmp_path / "no-logs.tar"))
    diagnosis, *evidence = records
    assert any("may be stale" in warning for warning in diagnosis["warnings"])
    system = [record for record in evidence if record["hive"] == "SYSTEM"]
    assert system and all(not record["exact"] and "may be stale" in record["reader"] for record in system)


def test_target_query_on_a_dirty_hive_with_its_logs_is_the_replayed_verdict(tmp_path: Path) -> None:
    tree = copy_windows_tree(unpack_to(DIRTY, tmp_path), tmp_path / "tree")
    diagnosis, *evidence = target_query("--plugin-path", plugin_file(), "-f", "vhdfix.diagnose",
                                        acquire_tar(tree, tmp_path / "dirty.tar"))
    assert diagnosis["article"] == PA
    setup_type = next(record for record in evidence if record["fact"] == "setup.SetupType")
    assert setup_type["value"] == "2" and setup_type["exact"]
    assert "2 log entries replayed" in setup_type["reader"]
