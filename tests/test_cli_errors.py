"""Malformed inputs: each gives its error code through the CLI, exit code 3, and never a traceback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.vhd_builder import VhdSpec, write_vhd

DFIR_NTFS = "msuhanov+dfir_ntfs/test_data"


def run_inspect(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vhdfix", "inspect", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def assert_error(path: Path, code: str) -> None:
    done = run_inspect("--json", path)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 3, done.stdout + done.stderr
    payload = json.loads(done.stdout)
    assert payload["schema"] == "vhdfix.inspect/1"
    assert payload["error"]["code"] == code, payload["error"]
    assert "\n" not in payload["error"]["message"]
    assert code in done.stderr


def _dynamic_vhd(path: Path) -> bytes:
    write_vhd(path, VhdSpec(1024 * 1024, b"D" * 16, {s: bytes([s % 251]) * 512 for s in range(0, 2048, 5)}))
    return path.read_bytes()


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "random.vhd").write_bytes(os.urandom(1 << 16))
    assert_error(tmp_path / "random.vhd", "not-a-disk-image")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.vhdx").write_bytes(b"")
    assert_error(tmp_path / "empty.vhdx", "not-a-disk-image")


def test_missing_file(tmp_path: Path) -> None:
    assert_error(tmp_path / "absent.vhd", "input-not-found")


def test_directory(tmp_path: Path) -> None:
    assert_error(tmp_path, "input-unreadable")


def test_truncated_dynamic_vhd(tmp_path: Path) -> None:
    data = _dynamic_vhd(tmp_path / "d.vhd")
    (tmp_path / "t.vhd").write_bytes(data[: len(data) // 3] + data[-512:])
    assert_error(tmp_path / "t.vhd", "truncated")


def test_broken_footer(tmp_path: Path) -> None:
    data = bytearray(_dynamic_vhd(tmp_path / "d.vhd"))
    data[-512:-504] = b"garbage!"
    data[0:8] = b"garbage!"
    (tmp_path / "f.vhd").write_bytes(bytes(data))
    assert_error(tmp_path / "f.vhd", "not-a-disk-image")


def test_zeroed_disk_has_no_partition_table(tmp_path: Path) -> None:
    (tmp_path / "zero.raw").write_bytes(bytes(1 << 20))
    assert_error(tmp_path / "zero.raw", "no-partition-table")


def test_gpt_with_bad_crcs(realdata: Path, tmp_path: Path) -> None:
    data = bytearray(gzip.decompress((realdata / DFIR_NTFS / "gpt-512-3p.raw.gz").read_bytes()))
    data[512 + 40] ^= 0xFF
    data[len(data) - 512 + 40] ^= 0xFF
    (tmp_path / "gpt.raw").write_bytes(bytes(data))
    assert_error(tmp_path / "gpt.raw", "bad-checksum")


def test_disk_without_windows(realdata: Path, tmp_path: Path) -> None:
    (tmp_path / "gpt.raw").write_bytes(gzip.decompress((realdata / DFIR_NTFS / "gpt-512-3p.raw.gz").read_bytes()))
    assert_error(tmp_path / "gpt.raw", "no-windows-volume")


def test_broken_vhdx_region_tables(realdata: Path, tmp_path: Path) -> None:
    data = bytearray(gzip.decompress(
        (realdata / "LTRData+DiscUtils/Tests/LibraryTests/Swap/Data/swap.vhdx.gz").read_bytes()))
    for table in (192 * 1024, 256 * 1024):
        data[table + 20] ^= 0xFF
    (tmp_path / "r.vhdx").write_bytes(bytes(data))
    assert_error(tmp_path / "r.vhdx", "bad-checksum")


def test_several_disks_give_an_array_and_the_highest_code(tmp_path: Path) -> None:
    (tmp_path / "zero.raw").write_bytes(bytes(1 << 20))
    done = run_inspect("--json", tmp_path / "zero.raw", tmp_path / "absent.vhd")
    assert done.returncode == 3
    payload = json.loads(done.stdout)
    assert [entry["error"]["code"] for entry in payload] == ["no-partition-table", "input-not-found"]


def test_usage_error_exits_2() -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", "inspect"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["--help"], ["inspect", "--help"], ["--version"]])
def test_help_and_version(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "vhdfix", *args], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout
