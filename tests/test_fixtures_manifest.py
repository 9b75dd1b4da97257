"""The committed fixture disks match fixtures/MANIFEST.json (no external tools needed)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
FILES: list[dict[str, Any]] = MANIFEST["files"]
FORMATS = {"vhd-fixed", "vhd-dynamic", "vhdx-dynamic"}


def _open(path: Path, compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    assert compression is None, compression
    return path.open("rb")


def _sha256(handle: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _ids() -> Iterator[str]:
    for item in FILES:
        yield item["path"]


@pytest.mark.parametrize("item", FILES, ids=list(_ids()))
def test_file_exists_and_matches_sha256(item: dict[str, Any]) -> None:
    path = FIXTURES / item["path"]
    assert path.is_file(), f"{item['path']} is missing; run python fixtures/build_fixtures.py"
    with path.open("rb") as handle:
        digest, size = _sha256(handle)
    assert size == item["size"]
    assert digest == item["sha256"]


@pytest.mark.parametrize("item", [i for i in FILES if i["compression"]],
                         ids=[i["path"] for i in FILES if i["compression"]])
def test_compressed_file_unpacks_to_the_recorded_image(item: dict[str, Any]) -> None:
    with _open(FIXTURES / item["path"], item["compression"]) as handle:
        digest, size = _sha256(handle)
    assert size == item["image_size"]
    assert digest == item["image_sha256"]


def test_matrix_is_complete() -> None:
    scenarios = set(MANIFEST["scenarios"])
    matrix = {(i["scenario"], i["layout"], i["format"]) for i in FILES if i["path"].startswith("matrix/")}
    assert matrix == {(s, layout, f) for s in scenarios for layout in ("mbr", "gpt") for f in FORMATS}
    assert any(i["path"] == "provisioning-agent.vhd" and i["compression"] is None for i in FILES)


@pytest.mark.parametrize("item", FILES, ids=list(_ids()))
def test_partition_facts_are_consistent(item: dict[str, Any]) -> None:
    parts = item["partitions"]
    assert [p["number"] for p in parts] == list(range(1, len(parts) + 1))
    windows = parts[item["windows_partition"] - 1]
    assert windows["role"] == "windows"
    assert windows["filesystem"] == "ntfs"
    for part in parts:
        assert part["offset"] % (1024 * 1024) == 0  # 1 MiB aligned, as Windows and Azure do
        assert part["offset"] + part["size"] <= item["virtual_size"]
    if item["layout"] == "mbr":
        assert item["partition_table"]["label"] == "dos"
        assert [p["type"] for p in parts] == ["7", "7"]
        assert parts[0]["bootable"] and parts[0]["label"] == "System Reserved"
    else:
        assert item["partition_table"]["label"] == "gpt"
        assert [p["role"] for p in parts] == ["esp", "msr", "windows", "recovery"]
    assert item["scenario"] in MANIFEST["scenarios"]


SAMPLE_FILES: list[dict[str, Any]] = MANIFEST["samples"]["files"]


@pytest.mark.parametrize("item", SAMPLE_FILES, ids=[i["path"] for i in SAMPLE_FILES])
def test_sample_matches_its_manifest_entry(item: dict[str, Any]) -> None:
    path = FIXTURES / item["path"]
    assert path.is_file(), f"{item['path']} is missing; run python fixtures/build_fixtures.py --samples"
    with path.open("rb") as handle:
        assert _sha256(handle) == (item["sha256"], item["size"])
    with _open(path, item["compression"]) as handle:
        assert _sha256(handle) == (item["image_sha256"], item["image_size"])


def test_samples_each_have_one_disk_and_consistent_partitions() -> None:
    scenarios = MANIFEST["samples"]["scenarios"]
    assert sorted(i["scenario"] for i in SAMPLE_FILES) == sorted(scenarios)
    for item in SAMPLE_FILES:
        assert item["format"] == "vhd-dynamic" and item["layout"] == scenarios[item["scenario"]]["layout"]
        parts = item["partitions"]
        for part in parts:
            assert part["offset"] % (1024 * 1024) == 0 and part["offset"] + part["size"] <= item["virtual_size"]
        if item["layout"] == "linux":
            assert item["windows_partition"] is None and [p["filesystem"] for p in parts] == ["ext4"]
        else:
            assert parts[item["windows_partition"] - 1]["role"] == "windows"
        if item["layout"] == "gpt-fat32":
            assert parts[0]["role"] == "esp" and parts[0]["filesystem"] == "fat32"
