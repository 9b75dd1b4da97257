"""Hostile input for the new parsers and editors: the FAT32 file lookup, the BCD finder, and the hive editor's
deletions and allocations. Seeded random mutations (reproducible): every outcome is a plan or a VhdfixError, within
the time budget, and the editor never writes outside the hive image."""

from __future__ import annotations

import random
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import read_realdata
from tests.support.bcd_disks import BCD, default_loader, gen2_disk, safeboot_bcd
from tests.support.writer_support import step
from vhdfix.budget import time_budget
from vhdfix.diagnosis.actions import ValueName, ValueSetting
from vhdfix.disk import open_disk
from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import VhdfixError
from vhdfix.fat import FatVolume
from vhdfix.partitions import read_partition_table
from vhdfix.windows.bcd import find_bcd
from vhdfix.writer import open_context, plan_actions
from vhdfix.writer.hive_edit import HiveEditor

WHEN = datetime(2024, 5, 6, tzinfo=timezone.utc)
SAFEBOOT = {"type": "delete-bcd-elements", "elements": [{"object": "{default}", "element": "25000080"}]}
ROUNDS = 60


@pytest.fixture(scope="module")
def gen2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("gen2")
    bcd = safeboot_bcd(folder)
    return gen2_disk(folder, bcd), bcd


def test_a_mutated_esp_gives_a_plan_or_a_vhdfix_error(gen2: tuple[Path, bytes], tmp_path: Path) -> None:
    disk, _ = gen2
    esp_start = 1024 * 1024
    pristine = disk.read_bytes()
    generator = random.Random(16)
    target = tmp_path / "mutated.raw"
    outcomes = {"plan": 0, "error": 0}
    for _ in range(ROUNDS):
        data = bytearray(pristine)
        for _ in range(generator.randint(1, 8)):
            # the boot sector, the FAT, the directories: the first 700 KiB of the ESP hold all of them
            data[esp_start + generator.randrange(700 * 1024)] = generator.randrange(256)
        target.write_bytes(data)
        try:
            with time_budget(20, "mutated ESP"), open_context(target) as context:
                plan_actions(context, [step("safeboot", SAFEBOOT)], now=WHEN)
            outcomes["plan"] += 1
        except VhdfixError:
            outcomes["error"] += 1
    assert sum(outcomes.values()) == ROUNDS


def test_a_looping_cluster_chain_is_refused(gen2: tuple[Path, bytes], tmp_path: Path) -> None:
    disk, _ = gen2
    image = open_disk(disk)
    try:
        store, _ = find_bcd(image, read_partition_table(image))
        assert store is not None and isinstance(store.volume, FatVolume)
        fat = store.volume.file(store.path)
        assert fat is not None and fat.size > 512
        partition = store.partition
        volume = image.read(partition.offset, 40 * 1024 * 1024)
    finally:
        image.close()
    boot = volume[:512]
    fat_offset = struct.unpack_from("<H", boot, 14)[0] * 512
    first = (fat.runs[0][0] - (fat_offset + 2 * struct.unpack_from("<I", boot, 36)[0] * 512)) // 512 + 2
    looped = bytearray(volume)
    struct.pack_into("<I", looped, fat_offset + 4 * first, first)  # the first cluster points at itself
    looping = FatVolume(ReadOnlyStream(lambda at, size: bytes(looped[at:at + size]), len(looped)), "esp")
    with pytest.raises(VhdfixError, match="a loop"):
        looping.file("EFI\\Microsoft\\Boot\\BCD")


def test_mutated_hives_are_edited_or_refused_never_written_outside() -> None:
    original = read_realdata(BCD)
    loader = default_loader(original)
    element = f"Objects\\{loader}\\Elements\\25000020"
    generator = random.Random(1616)
    for _ in range(ROUNDS * 4):
        data = bytearray(original)
        for _ in range(generator.randint(1, 6)):
            data[4096 + generator.randrange(len(original) - 4096)] = generator.randrange(256)
        try:
            editor = HiveEditor("BCD", bytes(data), WHEN)
            editor.delete_key(element, element, 0)
            editor.delete_value(ValueName("BCD", f"Objects\\{loader}\\Elements\\23000003", "Element"), 0)
            editor.set_value(ValueSetting("BCD", "Objects", "New", 7, "REG_DWORD", create=True), 0)
        except VhdfixError:
            continue
        assert len(editor.image) == len(original)
        assert all(0 <= start < end <= len(original) for start, end, _, _ in editor.writes)
