"""Marvin32 against Microsoft's published vectors and a real hive log entry."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from vhdfix.registry.marvin32 import HIVE_LOG_SEED, marvin32

# dotnet/runtime src/libraries/System.Runtime/tests/.../MarvinTests.cs (MIT)
SEED_1 = 0x004FB61A001BDBCC
SEED_2 = 0x804FB61A001BDBCC
SEED_3 = 0x804FB61A801BDBCC
VECTORS = [
    (SEED_1, "", 0x30ED35C100CD3C7D),
    (SEED_1, "af", 0x48E73FC77D75DDC1),
    (SEED_1, "e70f", 0xB5F6E1FC485DBFF8),
    (SEED_1, "37f495", 0xF0B07C789B8CF7E8),
    (SEED_1, "8642dc59", 0x7008F2E87E9CF556),
    (SEED_1, "153fb79826", 0xE6C08C6DA2AFA997),
    (SEED_1, "0932e6246c47", 0x6F04BF1A5EA24060),
    (SEED_1, "ab427ea8d10fc7", 0xE11847E4F0678C41),
    (SEED_2, "", 0x10A9D5D3996FD65D),
    (SEED_2, "153fb79826", 0x0A06114B13464DBD),
    (SEED_2, "ab427ea8d10fc7", 0xE203987DBA252FB3),
    (SEED_3, "00", 0xA37FB0DA2ECAE06C),
    (SEED_3, "FF00FF00", 0xD3BEC7726B057943),
    (SEED_3, "00FF00FF00FF00", 0x71876F2EFB1B0EE8),
]


@pytest.mark.parametrize(("seed", "data", "expected"), VECTORS)
def test_published_vectors(seed: int, data: str, expected: int) -> None:
    assert marvin32(bytes.fromhex(data), seed) == expected


def test_default_seed_is_the_hive_log_seed() -> None:
    # regf spec, 'New format' / 'Log entries', note 3: seed bytes 82 EF 4D 88 7A 4E 55 C5.
    assert int.from_bytes(bytes.fromhex("82EF4D887A4E55C5"), "big") == HIVE_LOG_SEED
    assert marvin32(b"abcd") == marvin32(b"abcd", HIVE_LOG_SEED)


def test_accepts_any_buffer() -> None:
    data = bytes(range(256)) * 3
    assert marvin32(bytearray(data)) == marvin32(memoryview(data)) == marvin32(data)


def test_real_log_entry_hashes() -> None:
    root = os.environ.get("VHDFIX_REALDATA")
    if not root:
        pytest.skip("VHDFIX_REALDATA is not set")
    log = (Path(root) / "msuhanov+yarp/hives_for_tests/NewDirtyHive1/NewDirtyHive.LOG2").read_bytes()
    offset = 512
    assert log[offset:offset + 4] == b"HvLE"
    (size,) = struct.unpack_from("<I", log, offset + 4)
    hash_1, hash_2 = struct.unpack_from("<QQ", log, offset + 24)
    assert marvin32(log[offset + 40:offset + size]) == hash_1
    assert marvin32(log[offset:offset + 32]) == hash_2
