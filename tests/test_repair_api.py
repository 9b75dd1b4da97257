"""``vhdfix.repair``: the repair of each sample disk into each format, its refusals, and its exit codes.

The repairs go through the surgical writer (``vhdfix.writer``); where a test
needs a planner that misbehaves, it passes its own.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import vhdfix
import vhdfix.inspection as inspection_module
import vhdfix.writer.context as context_module
from tests.support.samples import PA, sample
from tests.support.vhd_builder import VhdSpec, write_vhd
from vhdfix.copy.temporaries import TEMP_MARK
from vhdfix.copy.writer import FlatWriter
from vhdfix.diagnosis import RemedyStep
from vhdfix.disk import Container, open_disk
from vhdfix.disk.image_file import ImageFile
from vhdfix.disk.vhd_format import HARD_DISK_FOOTER
from vhdfix.partitions import PartitionTable, read_partition_table
from vhdfix.plan import BytePatch, PlanStep, WritePlan
from vhdfix.registry import hive as hive_module
from vhdfix.registry.recovery import RecoveryResult
from vhdfix.repair import SCHEMA, RepairResult, repair, writer_planner
from vhdfix.windows import find_windows_volume
from vhdfix.writer import WriteContext

UNATTEND = "Windows\\OEM\\Unattend.wsf"
PA_ARTICLE = "OSStartUp-PROVISIONING_AGENT"
FORMATS = ("same", "vhd-fixed", "vhd-dynamic", "vhdx", "raw")
SUFFIX = {"same": "", "vhd-fixed": ".vhd", "vhd-dynamic": ".vhd", "vhdx": ".vhdx", "raw": ".raw"}
INPUTS = {"vhd-dynamic": f"{PA}.vhd", "vhd-fixed": f"{PA}-gpt-vhd-fixed", "vhdx": f"{PA}-gpt-vhdx-dynamic"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def out_path(folder: Path, disk: Path, fmt: str) -> Path:
    return folder / f"repaired{SUFFIX[fmt] or disk.suffix}"


def windows_file_present(path: Path, name: str) -> bool:
    disk = open_disk(path)
    try:
        windows, _ = find_windows_volume(disk, read_partition_table(disk))
        return windows.ntfs.record(name) is not None
    finally:
        disk.close()


def assert_nothing_written(folder: Path, before: set[str]) -> None:
    assert {path.name for path in folder.iterdir()} == before
    assert not [path for path in folder.iterdir() if TEMP_MARK in path.name]


def checks(result: RepairResult) -> dict[str, object]:
    return {check.name: check.passed for check in result.checks}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", list(INPUTS))
def test_repair_each_sample_into_each_format(kind: str, fmt: str, samples: Path, tmp_path: Path) -> None:
    disk = sample(INPUTS[kind], samples)
    digest = sha256(disk)
    out = out_path(tmp_path, disk, fmt)
    result = repair(disk, out, format=fmt)
    assert result.exit_code == 0, result.to_json()
    assert result.outcome == "repaired" and result.error is None
    assert sha256(disk) == digest
    assert [path.name for path in tmp_path.iterdir()] == [out.name]
    assert checks(result) == {"reopen": True, "diagnosis": True, "untouched-blocks": True, "untouched-files": True,
                              "writer": True}

    payload = result.to_json()
    assert payload["schema"] == SCHEMA and payload["exit_code"] == 0
    assert payload["diagnosis"]["article"] == PA_ARTICLE and payload["diagnosis"]["confidence"] == "high"
    (step,) = payload["plan"]["steps"]
    assert step["id"] == "remove-unattend-wsf" and step["documented"] is True and step["source"]
    assert len(step["patches"]) >= 3 and all({"offset", "old", "new", "reason"} <= set(p) for p in step["patches"])
    files = next(check for check in payload["verification"]["checks"] if check["name"] == "untouched-files")
    assert files["removed"] == [UNATTEND] and files["files_compared"] >= 2 and files["problems"] == []
    blocks = next(check for check in payload["verification"]["checks"] if check["name"] == "untouched-blocks")
    assert blocks["blocks_compared"] > 0 and blocks["patched_blocks"] >= 1 and blocks["problems"] == []
    copy = open_disk(out)
    try:  # the copy is read once, and only where its container stores data: its holes are zeros by the format
        assert blocks["bytes_read"] == sum(length for _, length in copy.allocated_ranges())
    finally:
        copy.close()
    phases = payload["phases"]
    assert list(phases) == ["diagnosis", "plan", "copy", "verification"]
    assert phases["copy"]["bytes_read"] == payload["output"]["bytes_read"]
    assert phases["copy"]["bytes_written"] == payload["output"]["bytes_written"] > 0
    assert phases["verification"]["bytes_read"] >= blocks["bytes_read"] > 0
    assert phases["diagnosis"]["bytes_read"] > 0 and phases["verification"]["bytes_written"] == 0
    assert payload["seconds"] >= phases["copy"]["seconds"] > 0
    assert payload["verification"]["passed"] is True
    output = payload["output"]
    assert output["written"] is True and output["path"] == str(out) and output["size"] == out.stat().st_size
    manual = [s["id"] for s in payload["steps"] if s["disposition"] == "manual"]
    assert manual == ["unmount-provisioning-iso", "restore-or-finish-oobe"]

    after = vhdfix.inspect(out)
    assert after.error is None and not windows_file_present(out, UNATTEND)
    assert windows_file_present(out, "Windows\\OEM\\ErrorHandler.cmd")
    assert all(match.confidence == "low" for match in after.diagnosis.matches if match.article.id == PA_ARTICLE)


def test_a_differencing_chain_becomes_one_standalone_image(tmp_path: Path) -> None:
    base = Path(shutil.copy(sample(f"{PA}.vhd", tmp_path), tmp_path / "base.vhd"))
    with ImageFile(base) as image:
        unique_id = HARD_DISK_FOOTER.parse(image.read_at(image.size - 512, 512)).unique_id
    size = open_disk(base).virtual_size
    write_vhd(tmp_path / "child.vhd", VhdSpec(size, b"K" * 16, {}, unique_id, "base.vhd"))
    digests = sha256(base), sha256(tmp_path / "child.vhd")
    result = repair(tmp_path / "child.vhd", tmp_path / "out.vhd")
    assert result.exit_code == 0, result.to_json()
    assert (sha256(base), sha256(tmp_path / "child.vhd")) == digests
    repaired = open_disk(tmp_path / "out.vhd")
    assert len(repaired.chain) == 1 and repaired.info.variant == "dynamic"
    repaired.close()
    assert result.to_json()["input"]["chain"][1]["path"] == str(base)


def test_the_dirty_hive_sample_is_repaired(samples: Path, tmp_path: Path) -> None:
    disk = sample(f"{PA}-dirty-hive-mbr-vhd-dynamic", samples)
    result = repair(disk, tmp_path / "out.vhd", format="vhd-fixed")
    assert result.exit_code == 0, result.to_json()
    assert not windows_file_present(tmp_path / "out.vhd", UNATTEND)


def test_extended_steps_only_with_their_flag(tmp_path: Path) -> None:
    disk = sample(f"{PA}.vhd", tmp_path)
    extended = ["remove-error-handler-hooks", "remove-setup-complete-hooks"]
    result = repair(disk, tmp_path / "out.vhd", extended=extended)
    assert result.exit_code == 0, result.to_json()
    payload = result.to_json()
    planned = {step["id"]: step["documented"] for step in payload["plan"]["steps"]}
    assert planned == {"remove-unattend-wsf": True, "remove-error-handler-hooks": False,
                       "remove-setup-complete-hooks": False}
    labelled = {s["id"]: s.get("label") for s in payload["steps"] if not s["documented"]}
    assert set(labelled.values()) == {"NOT documented by Microsoft"}
    files = next(check for check in payload["verification"]["checks"] if check["name"] == "untouched-files")
    assert len(files["removed"]) == 5
    for name in ("Windows\\OEM\\ErrorHandler.cmd", "Windows\\Setup\\Scripts\\SetupComplete.cmd"):
        assert not windows_file_present(tmp_path / "out.vhd", name)


def never_called(context: WriteContext, steps: Sequence[RemedyStep]) -> WritePlan:
    raise AssertionError("the planner must not be called")


def test_no_documented_disk_fix_writes_nothing(samples: Path, tmp_path: Path) -> None:
    disk = sample("could-not-finish-configuring-mbr-vhd-dynamic", samples)
    result = repair(disk, tmp_path / "out.vhd", planner=never_called)
    assert result.exit_code == 1 and result.outcome == "nothing-to-repair", result.to_json()
    assert "Microsoft documents no disk fix" in result.message and "--reset-setup-state" in result.message
    assert result.to_json()["plan"] is None and list(tmp_path.iterdir()) == []


def test_an_extended_step_is_planned_when_asked_for(samples: Path, tmp_path: Path) -> None:
    """Could-not-finish has no documented disk fix; the community workaround is written on request. The disk
    ties it with could-not-complete, which offers another workaround, so the screen text must pick it. The
    article still matches afterwards (ImageState is unchanged), which is reported, not failed."""
    disk = sample("could-not-finish-configuring-mbr-vhd-dynamic", samples)
    asked: list[list[str]] = []

    def recording(context: WriteContext, steps: Sequence[RemedyStep]) -> WritePlan:
        asked.append([step.id for step in steps])
        return writer_planner(context, steps)

    tied = repair(disk, tmp_path / "out.vhd", planner=never_called, extended=["reset-setup-state"])
    assert tied.exit_code == 2 and tied.error.code == "diagnosis-tied", tied.to_json()
    assert "OSStartUp-WINDOWS_COULD_NOT_COMPLETE_INSTALLATION" in tied.message and list(tmp_path.iterdir()) == []
    result = repair(disk, tmp_path / "out.vhd", planner=recording, extended=["reset-setup-state"],
                    screen_text="Windows could not finish configuring the system")
    assert asked == [["reset-setup-state"]]
    assert result.exit_code == 0, result.to_json()
    assert checks(result) == {"reopen": True, "diagnosis": None, "untouched-blocks": True, "untouched-files": True,
                              "writer": True}
    files = next(check for check in result.checks if check.name == "untouched-files")
    assert files.data["changed"] == ["Windows\\System32\\config\\SYSTEM"]
    (step,) = result.to_json()["plan"]["steps"]
    assert step["documented"] is False and step["patches"]


def test_a_disk_no_article_applies_to(samples: Path, tmp_path: Path) -> None:
    result = repair(sample("healthy-mbr-vhd-dynamic", samples), tmp_path / "out.vhd", planner=never_called)
    assert result.exit_code == 1 and "no boot-error article applies" in result.message
    assert list(tmp_path.iterdir()) == []


def test_a_step_the_article_does_not_have(tmp_path: Path) -> None:
    result = repair(sample(f"{PA}.vhd", tmp_path), tmp_path / "out.vhd", extended=["no-such-step"],
                             planner=never_called)
    assert result.exit_code == 2 and result.error is not None and result.error.code == "step-not-in-remedy"
    assert "--remove-error-handler-hooks" in result.message


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    disk = Path(shutil.copy(sample(f"{PA}.vhd", tmp_path), tmp_path / "in.vhd"))
    before = {path.name: (path.stat().st_mtime_ns, sha256(path)) for path in tmp_path.iterdir()}
    result = repair(disk, tmp_path / "out.vhdx", format="vhdx", dry_run=True)
    assert result.exit_code == 0 and result.outcome == "would-repair", result.to_json()
    payload = result.to_json()
    assert payload["dry_run"] is True and payload["plan"]["steps"][0]["patches"]
    assert payload["output"]["written"] is False and payload["verification"]["checks"] == []
    assert {path.name: (path.stat().st_mtime_ns, sha256(path)) for path in tmp_path.iterdir()} == before


def test_an_existing_output_needs_force(tmp_path: Path) -> None:
    disk = sample(f"{PA}.vhd", tmp_path)
    out = tmp_path / "out.vhd"
    out.write_bytes(b"precious")
    result = repair(disk, out, planner=never_called)
    assert result.exit_code == 2 and result.error is not None and result.error.code == "output-exists"
    assert out.read_bytes() == b"precious"
    result = repair(disk, out, force=True)
    assert result.exit_code == 0 and open_disk(out).info.format == "vhd"


def test_the_input_and_its_parents_are_never_the_output(tmp_path: Path) -> None:
    base = Path(shutil.copy(sample(f"{PA}.vhd", tmp_path), tmp_path / "base.vhd"))
    with ImageFile(base) as image:
        unique_id = HARD_DISK_FOOTER.parse(image.read_at(image.size - 512, 512)).unique_id
    write_vhd(tmp_path / "child.vhd", VhdSpec(8 << 20, b"K" * 16, {}, unique_id, "base.vhd"))
    (tmp_path / "link.vhd").symlink_to(tmp_path / "child.vhd")
    digests = sha256(base), sha256(tmp_path / "child.vhd")
    for out in (tmp_path / "child.vhd", tmp_path / "link.vhd", tmp_path / "sub" / ".." / "child.vhd", base):
        for force in (False, True):
            result = repair(tmp_path / "child.vhd", out, force=force, planner=never_called)
            assert result.exit_code == 2 and result.error is not None, (out, force)
            assert result.error.code == "output-is-input" or (not force and result.error.code == "output-exists")
    assert (sha256(base), sha256(tmp_path / "child.vhd")) == digests


def test_bad_output_paths(tmp_path: Path) -> None:
    disk = sample(f"{PA}.vhd", tmp_path)
    for out in (tmp_path / "missing" / "out.vhd", tmp_path):
        result = repair(disk, out, planner=never_called)
        assert result.exit_code == 2 and result.error is not None and result.error.code == "output-invalid"


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "junk.vhd").write_bytes(bytes(range(256)) * 64)
    for disk, code in ((tmp_path / "absent.vhd", "input-not-found"), (tmp_path / "junk.vhd", "not-a-disk-image")):
        result = repair(disk, tmp_path / "out.vhd", planner=never_called)
        assert result.exit_code == 3 and result.error is not None and result.error.code == code
        assert result.to_json()["error"]["code"] == code
    assert not (tmp_path / "out.vhd").exists()


def test_a_corrupted_copy_fails_verification_and_is_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    disk = sample(f"{PA}.vhd", tmp_path)
    source = open_disk(disk)
    at = source.read(0, source.virtual_size).index(b"TITLE SETUP COMPLETE")  # inside OEM\SetupComplete.cmd
    source.close()
    write = FlatWriter.write

    def corrupting(self: FlatWriter, offset: int, data: bytes, stored_at: int | None = None) -> None:
        if offset <= at < offset + len(data):
            data, stored_at = data[:at - offset] + b"t" + data[at - offset + 1:], None
        write(self, offset, data, stored_at)

    monkeypatch.setattr(FlatWriter, "write", corrupting)
    result = repair(disk, tmp_path / "out.raw", format="raw")
    assert result.exit_code == 4 and result.error is not None and result.error.code == "verification-failed"
    assert checks(result)["untouched-blocks"] is False
    assert f"untouched-blocks: 1 block(s) differ: virtual bytes {at // 2**20 * 2**20}-" in result.error.message
    assert list(tmp_path.iterdir()) == []


def test_the_input_and_the_output_are_each_opened_and_read_once(samples: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner works on what the inspection read: one reader of the input, and its dirty SYSTEM hive
    recovered once. The edit commits SYSTEM clean in the copy, so the copy's checks recover nothing. The
    verifier reopens the copy once and finds its Windows volume once, for all of its checks."""
    disk = sample(f"{PA}-dirty-hive-mbr-vhd-dynamic", samples)
    opened: list[Path] = []
    recovered: list[int] = []
    volumes_found: list[str] = []
    real_init, real_recover = ImageFile.__init__, hive_module.recover
    for module in (inspection_module, context_module):
        real_find = module.find_windows_volume

        def recording_find(disk: Container, table: PartitionTable, real_find: Any = real_find) -> Any:
            volumes_found.append(disk.image.path.name)
            return real_find(disk, table)

        monkeypatch.setattr(module, "find_windows_volume", recording_find)

    def recording_init(self: ImageFile, path: str | os.PathLike[str]) -> None:
        opened.append(Path(path))
        real_init(self, path)

    def recording_recover(primary: bytes, logs: Sequence[tuple[str, bytes]]) -> RecoveryResult:
        result = real_recover(primary, logs)
        recovered.append(result.entries_applied)
        return result

    monkeypatch.setattr(ImageFile, "__init__", recording_init)
    monkeypatch.setattr(hive_module, "recover", recording_recover)
    result = repair(disk, tmp_path / "out.vhd", extended=["reset-setup-state"])
    assert result.exit_code == 0, result.to_json()
    assert opened.count(disk) == 1
    assert len(opened) == 2, opened  # the input, then the copy
    assert volumes_found == [disk.name, opened[1].name]
    assert [entries for entries in recovered if entries] == [2]


def test_a_plan_that_does_not_repair_fails_verification(tmp_path: Path) -> None:
    disk = sample(f"{PA}.vhd", tmp_path)

    def harmless(context: WriteContext, steps: Sequence[RemedyStep]) -> WritePlan:
        old = context.disk.read(446 + 4, 1)  # the first partition entry's type byte: the article is untouched
        patch = BytePatch(446 + 4, old, old, "rewrites a byte with itself")
        return WritePlan([PlanStep(step.id, step.text, step.documented, step.source, [patch]) for step in steps])

    result = repair(disk, tmp_path / "out.vhd", planner=harmless)
    assert result.exit_code == 4 and result.error is not None and result.error.code == "verification-failed"
    assert checks(result)["diagnosis"] is False and "still matches with high confidence" in result.error.message
    assert list(tmp_path.iterdir()) == []


def test_the_public_api() -> None:
    importlib.import_module("vhdfix.repair")  # loading the module of the same name must not rebind vhdfix.repair
    assert isinstance(sys.modules["vhdfix.repair"], types.ModuleType)
    assert vhdfix.repair is sys.modules["vhdfix.repair"].repair
    assert vhdfix.inspect is importlib.import_module("vhdfix.inspection").inspect
    assert {"inspect", "repair"} <= set(vhdfix.__all__)
