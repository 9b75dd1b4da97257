"""Crafted containers and partition tables: tiny disks, a VHDX log full of decoys, parent locators that name
themselves, point elsewhere or hold names that are not file names."""

from __future__ import annotations

import struct
import time
import uuid
from pathlib import Path

import pytest

from tests.support.vhd_builder import VhdSpec, write_vhd
from tests.support.vhdx_builder import MiB, VhdxSpec, read_layout, rewrite_header, write_vhdx
from vhdfix.disk import open_disk
from vhdfix.disk.parent import ParentHints, ParentPolicy
from vhdfix.errors import CorruptPartitionTable, NoPartitionTable, ParentLoop, ParentMissing, VhdxLogInvalid
from vhdfix.partitions import read_partition_table
from vhdfix.partitions.gpt import read_gpt

SIZE = 1024 * 1024


@pytest.mark.parametrize("size", [8, 511])
def test_disk_smaller_than_a_sector_has_no_partition_table(tmp_path: Path, size: int) -> None:
    (tmp_path / "tiny.img").write_bytes(b"\x55" * size)
    disk = open_disk(tmp_path / "tiny.img")
    with pytest.raises(NoPartitionTable, match=f"the disk is {size} bytes"):
        read_partition_table(disk)
    disk.close()


def test_gpt_on_a_disk_of_two_sectors_is_corrupt() -> None:
    with pytest.raises(CorruptPartitionTable, match="too small for a GPT"):
        read_gpt(lambda offset, length: bytes(length), 512, 1024, [])


def test_log_full_of_entries_with_bad_checksums_is_not_read_over_and_over(tmp_path: Path) -> None:
    """Every 4 KiB of an 8 MiB log holds a plausible header of an 8 MiB entry whose CRC is wrong: without a
    scan budget, finding the valid entries would read 2048 x 8 MiB."""
    path = tmp_path / "decoys.vhdx"
    write_vhdx(path, VhdxSpec(4 * MiB))
    with open(path, "r+b") as handle:
        layout = read_layout(handle)
    log_at, log_length = 5 * MiB, 8 * MiB
    log_guid = uuid.UUID("0f2b7fd7-5d55-4c59-8e12-9e7b2f1f0c01")
    data = bytearray(path.read_bytes())
    data.extend(bytes(log_at + log_length - len(data)))
    for position in range(0, log_length, 4096):
        struct.pack_into("<4sIIIQII16sQQ", data, log_at + position, b"loge", 0, log_length, 0, 1, 0, 0,
                         log_guid.bytes_le, len(data), len(data))
    path.write_bytes(bytes(data))
    with open(path, "r+b") as handle:
        for slot in (0, 1):
            rewrite_header(handle, slot, lambda raw: (raw.__setitem__(slice(48, 64), log_guid.bytes_le),
                                                      struct.pack_into("<IQ", raw, 68, log_length, log_at)))
    assert layout.log_offset != log_at  # the builder's own log region stays unused
    started = time.process_time()
    with pytest.raises(VhdxLogInvalid, match="so many damaged entries"):
        open_disk(path)
    assert time.process_time() - started < 2


# --- parent locators (issue 7 §3) --------------------------------------------------------------------------------


def test_child_that_names_itself_as_parent_is_a_loop(tmp_path: Path) -> None:
    write_vhd(tmp_path / "self.vhd", VhdSpec(SIZE, b"S" * 16, {}, b"S" * 16, "self.vhd",
                                             [(b"W2ru", ".\\self.vhd")]))
    with pytest.raises(ParentLoop, match="already in the chain"):
        open_disk(tmp_path / "self.vhd")


def test_absolute_locator_is_only_a_name_beside_the_child_by_default(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "here").mkdir()
    write_vhd(elsewhere / "base.vhd", VhdSpec(SIZE, b"P" * 16, {0: b"\x01" * 512}))
    write_vhd(tmp_path / "here" / "child.vhd", VhdSpec(SIZE, b"C" * 16, {}, b"P" * 16, "",
                                                       [(b"W2ku", str(elsewhere / "base.vhd"))]))
    with pytest.raises(ParentMissing, match="not followed without --follow-parent-paths"):
        open_disk(tmp_path / "here" / "child.vhd")
    disk = open_disk(tmp_path / "here" / "child.vhd", follow_locator_paths=True)
    assert disk.read(0, 512) == b"\x01" * 512
    disk.close()
    (tmp_path / "here" / "base.vhd").write_bytes((elsewhere / "base.vhd").read_bytes())
    disk = open_disk(tmp_path / "here" / "child.vhd")  # the same name beside the child is used
    assert disk.chain[1].path == str(tmp_path / "here" / "base.vhd")
    disk.close()


@pytest.mark.parametrize("stored", ["..", "C:\\images\\par\0ent.vhd", "parent.vhd:stream", "a\\b\\p?rent.vhd",
                                    "..\\..\\etc\\\x01passwd"])
def test_stored_names_that_are_not_plain_file_names_are_ignored(tmp_path: Path, stored: str) -> None:
    hints = ParentHints(relative_paths=[stored], absolute_paths=[stored], names=[stored])
    assert ParentPolicy().candidates(tmp_path / "child.vhd", 0, hints) == []
    followed = ParentPolicy(follow_locator_paths=True).candidates(tmp_path / "child.vhd", 0, hints)
    assert all("\0" not in str(path) for path in followed)
    with pytest.raises(ParentMissing):
        ParentPolicy(follow_locator_paths=True).locate(tmp_path / "child.vhd", 0, hints, set())


def test_vhdx_locator_with_a_nul_in_its_path_is_a_missing_parent(tmp_path: Path) -> None:
    write_vhdx(tmp_path / "child.vhdx", VhdxSpec(4 * MiB, parent_locator={
        "parent_linkage": f"{{{uuid.uuid4()}}}", "relative_path": ".\\par\0ent.vhdx"}))
    for follow in (False, True):
        with pytest.raises(ParentMissing):
            open_disk(tmp_path / "child.vhdx", follow_locator_paths=follow)
