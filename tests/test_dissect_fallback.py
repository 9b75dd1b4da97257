"""``vhdfix inspect`` on what only dissect.target opens: an Acquire-style tar, a copied Windows tree, junk."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, require_tool, unpack_to
from tests.support.windows_tree import acquire_tar, acquire_zip, copy_windows_tree
from vhdfix.disk import open_disk
from vhdfix.errors import DissectFailed
from vhdfix.fallback import bounds
from vhdfix.inspection import inspect

PA = "OSStartUp-PROVISIONING_AGENT"
SAMPLE = FIXTURES / "provisioning-agent.vhd"
DIRTY = FIXTURES / "provisioning-agent-dirty-hive.vhd.xz"
SYSTEM_LOGS = ("Windows\\System32\\config\\SYSTEM.LOG1", "Windows\\System32\\config\\SYSTEM.LOG2")


def vhdfix(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vhdfix", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def inspect_json(path: Path) -> tuple[int, dict]:
    done = vhdfix("inspect", "--json", path)
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_windows_tree(SAMPLE, tmp_path_factory.mktemp("tree") / "C")


@pytest.fixture(scope="module")
def disk_report() -> dict:
    code, report = inspect_json(SAMPLE)
    assert code == 1 and report["article"] == PA
    return report


# What only the disk shows, beyond the Windows files a collection holds: the NTFS cluster bitmap and the BCD store on
# another partition. A collection leaves these facts unknown (None).
DISK_ONLY_FACTS = ("volume.", "bcd.")


def of_the_files(facts: dict) -> dict:
    return {name: value for name, value in facts.items() if not name.startswith(DISK_ONLY_FACTS)}


def assert_same_diagnosis(report: dict, disk_report: dict, loader: str) -> None:
    assert report["article"] == PA
    assert report["matches"] == disk_report["matches"]
    from_the_files = [item for item in disk_report["evidence"] if not item["fact"].startswith(DISK_ONLY_FACTS)]
    assert report["evidence"] == from_the_files
    assert of_the_files(report["facts"]) == of_the_files(disk_report["facts"])
    assert all(report["facts"][name] is None for name in report["facts"] if name.startswith(DISK_ONLY_FACTS))
    assert report["fallback"]["reader"] == "dissect.target" and report["fallback"]["loader"] == loader
    assert report["warnings"][0] == report["fallback"]["warning"]
    assert "not vhdfix's own disk readers" in report["warnings"][0]
    assert "repair is not available" in report["warnings"][0]


def test_an_acquire_tar_of_the_sample_gives_its_article_with_the_fallback_warning(
        sample_tree: Path, disk_report: dict, tmp_path: Path) -> None:
    archive = acquire_tar(sample_tree, tmp_path / "collection.tar")
    code, report = inspect_json(archive)
    assert code == 1
    assert_same_diagnosis(report, disk_report, "tar")
    assert report["hives"] == disk_report["hives"]

    text = vhdfix("inspect", archive)
    assert text.returncode == 1
    assert "dissect.target" in text.stdout and PA in text.stdout and "Traceback" not in text.stderr


def test_an_acquire_zip_of_the_sample_gives_its_article(sample_tree: Path, disk_report: dict, tmp_path: Path) -> None:
    code, report = inspect_json(acquire_zip(sample_tree, tmp_path / "collection.zip"))
    assert code == 1
    assert_same_diagnosis(report, disk_report, "zip")


def test_a_vdi_of_the_sample_is_read_through_dissects_container_and_ntfs_readers(
        disk_report: dict, tmp_path: Path) -> None:
    vdi = tmp_path / "sample.vdi"
    subprocess.run([require_tool("qemu-img"), "convert", "-O", "vdi", str(SAMPLE), str(vdi)], check=True)
    code, report = inspect_json(vdi)
    assert code == 1
    assert_same_diagnosis(report, disk_report, "raw")
    assert report["fallback"]["container"] == "vdi"
    assert "without vhdfix's guards" in report["warnings"][0] and "dissect.ntfs" in report["warnings"][0]


EWF_SEGMENT = 1 << 20  # ewfacquire's smallest segment file: the sample's 8 MiB disk spans .E01 to .E09


def raw_disk(image: Path, raw: Path) -> Path:
    """The virtual disk of ``image`` as a raw file, read through vhdfix's own reader."""
    disk = open_disk(image)
    try:
        with open(raw, "wb") as out:
            for offset in range(0, disk.virtual_size, 1 << 20):
                out.write(disk.read(offset, 1 << 20))
    finally:
        disk.close()
    return raw


@pytest.fixture(scope="module")
def sample_e01(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample disk as an uncompressed EWF image in 1 MiB segment files (sample.E01, sample.E02...)."""
    where = tmp_path_factory.mktemp("ewf")
    raw = raw_disk(SAMPLE, where / "sample.raw")
    subprocess.run([require_tool("ewfacquire"), "-u", "-q", "-c", "none", "-S", str(EWF_SEGMENT),
                    "-t", str(where / "sample"), str(raw)], check=True, capture_output=True, timeout=120)
    raw.unlink()
    return where / "sample.E01"


def test_an_e01_of_the_sample_in_segment_files_is_read_through_dissects_ewf_container(
        sample_e01: Path, disk_report: dict) -> None:
    assert sorted(p.suffix for p in sample_e01.parent.iterdir()) == [f".E0{n}" for n in range(1, 10)]
    code, report = inspect_json(sample_e01)
    assert code == 1
    assert_same_diagnosis(report, disk_report, "raw")
    assert report["fallback"]["container"] == "ewf"
    assert report["hives"] == disk_report["hives"]
    assert "ewf container" in report["warnings"][0] and "dissect.ntfs" in report["warnings"][0]


def refused_repair(disk: Path, output: Path) -> None:
    """``vhdfix repair`` of an input only dissect.target reads: diagnosed, then refused (exit 2)."""
    done = vhdfix("repair", disk, "--output", output, "--json")
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["error"]["code"] == "fallback-not-repairable"
    assert report["diagnosis"]["article"] == PA


def test_repair_of_an_e01_is_refused_and_writes_nothing(sample_e01: Path, tmp_path: Path) -> None:
    refused_repair(sample_e01, tmp_path / "repaired.vhd")
    assert list(tmp_path.iterdir()) == []


def segments_copy(sample_e01: Path, where: Path, skip: str = "") -> Path:
    where.mkdir()
    for segment in sample_e01.parent.iterdir():
        if segment.suffix != skip:
            shutil.copyfile(segment, where / segment.name)
    return where / sample_e01.name


@pytest.mark.parametrize(("cut", "skip"), [(".E01", ""), (".E05", ""), ("", ".E05")],
                         ids=["first-segment-cut", "middle-segment-cut", "middle-segment-missing"])
def test_a_broken_e01_gets_an_error_code_not_a_traceback(
        sample_e01: Path, tmp_path: Path, cut: str, skip: str) -> None:
    first = segments_copy(sample_e01, tmp_path / "ewf", skip)
    if cut:
        segment = first.with_suffix(cut)
        os.truncate(segment, segment.stat().st_size // 2)
    exit_code, report = inspect_json(first)
    assert exit_code == 3
    # dissect reads an EWF image with its generic raw loader: the input keeps vhdfix's own verdict on it
    assert report["error"]["code"] == "not-a-disk-image" and "dissect.target" in report["error"]["message"]
    assert "\n" not in report["error"]["message"]


def ewf_sections(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, type) of each section of an EWF segment file, along its chain."""
    sections, offset = [], bounds.EWF_FILE_HEADER_SIZE
    while True:
        kind, following, _, _ = bounds.EWF_SECTION.unpack_from(data, offset)
        sections.append((offset, kind.rstrip(b"\0")))
        if kind.rstrip(b"\0") == bounds.EWF_LAST_TYPE or following == offset:
            return sections
        offset = following


def crafted_e01(sample_e01: Path, where: Path, craft: Callable[[bytearray, list[tuple[int, bytes]]], None]) -> Path:
    first = segments_copy(sample_e01, where)
    data = bytearray(first.read_bytes())
    craft(data, ewf_sections(bytes(data)))
    first.write_bytes(data)
    return first


def chain_back(data: bytearray, sections: list[tuple[int, bytes]]) -> None:
    struct.pack_into("<Q", data, sections[2][0] + 16, sections[1][0])  # the third section's next: the second


def table_past_its_section(data: bytearray, sections: list[tuple[int, bytes]]) -> None:
    table = next(offset for offset, kind in sections if kind == b"table")
    struct.pack_into("<L", data, table + bounds.EWF_SECTION.size, 0x7FFFFFFF)


def header_bomb(data: bytearray, sections: list[tuple[int, bytes]]) -> None:
    """A first header section of 64 KiB inflating to 64 MiB, appended and spliced in first."""
    bomb = zlib.compress(bytes(64 << 20), 9)
    first, second = sections[0][0], sections[1][0]
    data[first:first + 16] = b"unknown".ljust(16, b"\0")
    struct.pack_into("<Q", data, first + 16, len(data))
    data += bounds.EWF_SECTION.pack(b"header2", second, bounds.EWF_SECTION.size + len(bomb), 0) + bomb


def test_an_e01_section_chain_pointing_back_is_refused_before_dissect_walks_it_for_ever(
        sample_e01: Path, tmp_path: Path) -> None:
    looped = crafted_e01(sample_e01, tmp_path / "ewf", chain_back)
    with pytest.raises(DissectFailed, match="names an earlier one as the next"):
        bounds.check_ewf(looped)
    exit_code, report = inspect_json(looped)  # dissect alone: the whole time budget and ~17 MB more each second
    assert exit_code == 3 and report["error"]["code"] == "not-a-disk-image"
    assert "names an earlier one as the next" in report["error"]["message"]


def test_an_e01_table_claiming_more_entries_than_its_section_holds_is_refused(
        sample_e01: Path, tmp_path: Path) -> None:
    with pytest.raises(DissectFailed, match="more entries than it holds"):
        bounds.check_ewf(crafted_e01(sample_e01, tmp_path / "ewf", table_past_its_section))


def test_an_e01_header_section_inflating_past_the_bound_is_too_large(sample_e01: Path, tmp_path: Path) -> None:
    exit_code, report = inspect_json(crafted_e01(sample_e01, tmp_path / "ewf", header_bomb))
    assert exit_code == 3 and report["error"]["code"] == "fallback-too-large"


def test_every_segment_file_of_an_e01_is_walked(sample_e01: Path, tmp_path: Path) -> None:
    first = segments_copy(sample_e01, tmp_path / "ewf")
    bounds.check_ewf(first)
    last = first.with_suffix(".E09")
    data = bytearray(last.read_bytes())
    chain_back(data, ewf_sections(bytes(data)))
    last.write_bytes(data)
    with pytest.raises(DissectFailed, match=r"sample\.E09"):
        bounds.check_ewf(first)


def test_a_directory_of_the_samples_windows_files_gives_its_article_with_the_fallback_warning(
        sample_tree: Path, disk_report: dict) -> None:
    code, report = inspect_json(sample_tree)
    assert code == 1
    assert_same_diagnosis(report, disk_report, "dir")


def test_a_dirty_hive_read_through_the_fallback_is_replayed_from_its_log(tmp_path: Path) -> None:
    disk = unpack_to(DIRTY, tmp_path)
    archive = acquire_tar(copy_windows_tree(disk, tmp_path / "tree"), tmp_path / "dirty.tar")
    code, report = inspect_json(archive)
    assert code == 1 and report["article"] == PA  # only the replayed SYSTEM hive says so (fixtures/SCENARIOS.md)
    system = report["hives"][0]
    assert system["name"] == "SYSTEM" and system["state"] == "recovered" and system["entries_applied"] == 2
    assert {"kind": "registry", "fact": "setup.SetupType", "hive": "SYSTEM", "key": "Setup", "name": "SetupType",
            "value": 2, "type": "REG_DWORD"} in report["evidence"]
    assert any("SYSTEM hive is dirty: 2 transaction-log entries were replayed" in w for w in report["warnings"])


def test_a_dirty_hive_collected_without_its_logs_carries_the_stale_warning(tmp_path: Path) -> None:
    disk = unpack_to(DIRTY, tmp_path)
    tree = copy_windows_tree(disk, tmp_path / "tree", skip=SYSTEM_LOGS)
    code, report = inspect_json(acquire_tar(tree, tmp_path / "no-logs.tar"))
    assert code in (0, 1)
    system = report["hives"][0]
    assert system["state"] == "dirty-no-log" and system["logs"] == []
    assert report["facts"]["setup.SetupType"] == 0  # the stale primary's value (2 after replay): the warning tells
    assert any("SYSTEM hive" in w and "may be stale" in w for w in report["warnings"])


@pytest.mark.parametrize(("name", "code"), [("collection.tar", "dissect-failed"), ("collection.zip", "dissect-failed"),
                                            ("image.E01", "not-a-disk-image"), ("noname", "not-a-disk-image")])
def test_random_bytes_get_an_error_code_not_a_traceback(tmp_path: Path, name: str, code: str) -> None:
    junk = tmp_path / name
    junk.write_bytes(os.urandom(1 << 16))
    exit_code, report = inspect_json(junk)
    assert exit_code == 3
    assert report["error"]["code"] == code and "\n" not in report["error"]["message"]


def test_a_directory_without_windows_keeps_its_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no Windows here")
    exit_code, report = inspect_json(tmp_path)
    assert exit_code == 3 and report["error"]["code"] == "input-unreadable"
    assert "dissect.target" in report["error"]["message"]


def test_a_tar_without_windows_is_no_windows_volume(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "readme.txt").write_text("nothing")
    exit_code, report = inspect_json(acquire_tar(tmp_path / "tree", tmp_path / "other.tar"))
    assert exit_code == 3 and report["error"]["code"] == "no-windows-volume"


def test_a_tar_with_more_entries_than_the_bound_is_refused_before_dissect_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "many.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for index in range(12):
            tar.addfile(tarfile.TarInfo(f"fs/C:/f{index}"), io.BytesIO())
    monkeypatch.setattr(bounds, "MAX_ARCHIVE_MEMBERS", 10)
    result = inspect(archive)
    assert result.error is not None and result.error.code == "fallback-too-large"


def gzip_bomb_tar(path: Path, gib: int) -> Path:
    """A gzip tar of one member claiming ``gib`` GiB of zeros: a few MB on disk, gzip members concatenated."""
    header = tarfile.TarInfo("fs/C:/zeros.bin")
    header.size = gib << 30
    zeros = gzip.compress(bytes(1 << 20), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(header.tobuf(format=tarfile.GNU_FORMAT)))
        for _ in range(gib << 10):
            out.write(zeros)
    return path


def test_the_time_budget_ends_a_compressed_archive_that_takes_too_long(tmp_path: Path) -> None:
    archive = gzip_bomb_tar(tmp_path / "bomb.tar.gz", 16)  # skipping the member decompresses 16 GiB: minutes
    result = inspect(archive, budget_seconds=2)
    assert result.error is not None and result.error.code == "time-budget-exceeded"


def test_repair_through_the_fallback_is_refused(sample_tree: Path, tmp_path: Path) -> None:
    archive = acquire_tar(sample_tree, tmp_path / "collection.tar")
    output = tmp_path / "repaired.vhd"
    refused_repair(archive, output)
    assert not output.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["collection.tar"]


def test_a_copied_tree_holding_a_fifo_and_links_to_devices_is_read_without_blocking(
        sample_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(sample_tree, tree)
    config = tree / "Windows" / "System32" / "config"
    for name in ("SYSTEM", "SOFTWARE", "SYSTEM.LOG1"):
        (config / name).unlink()
    os.mkfifo(config / "SYSTEM")  # opening it for reading would wait for a writer for ever
    (config / "SOFTWARE").symlink_to("/dev/zero")  # reading it would never end
    (config / "SYSTEM.LOG1").symlink_to("SYSTEM.LOG1")  # a link loop
    done = vhdfix("inspect", "--json", "--time-budget", "20", tree)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert [hive.get("error", {}).get("code") for hive in report["hives"]] == ["hive-missing", "hive-missing"]


def test_dissect_targets_own_registry_reads_a_dirty_hive_stale(tmp_path: Path) -> None:
    """Why the fallback reads hive files itself (KNOWN_ISSUES.md): dissect.target replays no log."""
    from dissect.target import Target

    archive = acquire_tar(copy_windows_tree(unpack_to(DIRTY, tmp_path), tmp_path / "tree"), tmp_path / "dirty.tar")
    setup = Target.open(archive).registry.key("HKLM\\SYSTEM\\Setup")
    assert setup.value("SetupType").value == 0  # the stale primary; the replayed hive says 2
    assert inspect(archive).evidence.get("setup.SetupType") == 2
