"""Crafted hive cells: subkey lists are checked before they are followed; regipy's walk and root search are not used.

The hive is the README sample's SYSTEM (root key at 0x20, four subkeys in an
``lh`` list).
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from regipy import registry
from regipy.registry import RegistryHive

from tests.support.hostile import sample_hive
from vhdfix.errors import HiveCorrupt
from vhdfix.registry import open_hive
from vhdfix.registry.base_block import checksum

BINS = 4096  # hive bins data starts here
ROOT = 0x20
NODE = 4  # cell size field


def _at(offset: int) -> int:
    return BINS + offset + NODE


def _hive() -> bytearray:
    return bytearray(sample_hive("SYSTEM"))


def _subkeys_list(data: bytearray) -> int:
    return struct.unpack_from("<I", data, _at(ROOT) + 28)[0]


def _lookups(data: bytearray) -> None:
    hive = open_hive("SYSTEM", bytes(data))
    hive.value("Setup", "SetupType")


def test_the_sample_hive_reads() -> None:
    hive = open_hive("SYSTEM", bytes(_hive()))
    assert hive.value("Setup", "SetupType") is not None


def test_key_listed_as_its_own_subkey_is_refused() -> None:
    data = _hive()
    struct.pack_into("<I", data, _at(_subkeys_list(data)) + 4, ROOT)  # first lh element: the root itself
    with pytest.raises(HiveCorrupt, match="lists the key itself"):
        _lookups(data)


def test_key_listed_twice_is_refused() -> None:
    data = _hive()
    at = _at(_subkeys_list(data))
    struct.pack_into("<I", data, at + 12, struct.unpack_from("<I", data, at + 4)[0])
    with pytest.raises(HiveCorrupt, match="lists a key twice"):
        _lookups(data)


def test_list_count_beyond_its_cell_is_refused() -> None:
    data = _hive()
    struct.pack_into("<H", data, _at(_subkeys_list(data)) + 2, 0xFFFF)
    with pytest.raises(HiveCorrupt, match="claims 65535 elements, more than its cell holds"):
        _lookups(data)


def test_subkey_count_that_disagrees_with_the_lists_is_refused() -> None:
    data = _hive()
    struct.pack_into("<I", data, _at(ROOT) + 20, 0xFFFFFFFF)
    with pytest.raises(HiveCorrupt, match="the subkeys lists hold 4 keys, the key node says 4294967295"):
        _lookups(data)


def test_index_root_that_points_at_itself_is_refused() -> None:
    data = _hive()
    at = _at(_subkeys_list(data))
    data[at:at + 4] = b"ri" + struct.pack("<H", 1)
    struct.pack_into("<I", data, at + 4, _subkeys_list(data))  # the index root's only leaf is itself
    with pytest.raises(HiveCorrupt, match="has signature b'ri'"):
        _lookups(data)


def _root_moved_past_a_free_first_cell() -> bytearray:
    """The base block names the first subkey as root; the first cell is free."""
    data = _hive()
    first_subkey = struct.unpack_from("<I", data, _at(_subkeys_list(data)) + 4)[0]
    struct.pack_into("<I", data, 36, first_subkey)
    struct.pack_into("<I", data, 508, checksum(data))
    size = struct.unpack_from("<i", data, BINS + ROOT)[0]
    struct.pack_into("<i", data, BINS + ROOT, -size)
    return data


def test_the_root_is_the_base_blocks_root_cell_even_past_a_free_first_cell() -> None:
    """regf spec, 'Base block': the root cell offset names the root key; vhdfix does not use regipy's search."""
    data = _root_moved_past_a_free_first_cell()
    first_subkey = open_hive("SYSTEM", bytes(_hive())).subkeys("")[0]
    started = time.process_time()
    hive = open_hive("SYSTEM", bytes(data))
    root = hive.key("")
    assert root is not None and root.name == first_subkey
    assert time.process_time() - started < 0.5


def test_regipy_looks_for_the_root_one_word_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """KNOWN_ISSUES.md: past a free first cell, regipy reads the next 4 bytes instead of skipping the cell, so a
    first hive bin of zeros is crawled word by word to its end."""
    data = bytearray(_hive()[:BINS + 32]) + bytes(64 * 1024)
    struct.pack_into("<I", data, BINS + 8, 64 * 1024)  # one hive bin of 64 KiB
    struct.pack_into("<i", data, BINS + ROOT, 16)  # a free first cell of 16 bytes, then zeros
    (tmp_path / "hive").write_bytes(bytes(data))
    reads = []
    real = registry.Int32sl

    class Counting:
        @staticmethod
        def parse_stream(stream: object) -> int:
            reads.append(1)
            return real.parse_stream(stream)
    monkeypatch.setattr(registry, "Int32sl", Counting)
    with pytest.raises(Exception):  # noqa: B017 - it ends in construct's StreamError at the end of the data
        RegistryHive(str(tmp_path / "hive"))
    assert len(reads) > 16 * 1024 - 16
