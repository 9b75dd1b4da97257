"""Marvin32 against Microsoft's published vectors and a real hive log entry, pure Python and compiled.

The compiled tests skip when the extension is not built, except under ``CI``, where they fail: CI must
exercise it. The pure-Python path is always tested, and compared with the compiled one.
"""

from __future__ import annotations

import importlib.machinery
import os
import random
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import read_realdata
from vhdfix.registry.marvin32 import (
    HIVE_LOG_SEED,
    IMPLEMENTATION,
    Marvin32,
    marvin32,
    marvin32_native,
    marvin32_python,
)

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
SEEDS = st.integers(min_value=0, max_value=2**64 - 1)


def require_native() -> Marvin32:
    """The compiled Marvin32; without it, skip, or fail in CI."""
    if marvin32_native is not None:
        return marvin32_native
    if os.environ.get("CI"):
        pytest.fail("the compiled Marvin32 (vhdfix.registry._marvin32) is not built; .ci/run must build it")
    pytest.skip("the compiled Marvin32 is not built (no C compiler when vhdfix was installed?)")


@pytest.fixture(scope="module")
def native() -> Marvin32:
    return require_native()


@pytest.fixture(params=["python", "native"])
def implementation(request: pytest.FixtureRequest) -> Marvin32:
    return marvin32_python if request.param == "python" else require_native()


def test_native_extension_is_built() -> None:
    require_native()
    from vhdfix.registry import _marvin32

    assert _marvin32.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_the_selected_implementation() -> None:
    forced = os.environ.get("VHDFIX_PURE_PYTHON", "") not in ("", "0")
    if forced or marvin32_native is None:
        assert (marvin32, IMPLEMENTATION) == (marvin32_python, "python")
    else:
        assert (marvin32, IMPLEMENTATION) == (marvin32_native, "native")


@pytest.mark.parametrize(("value", "forced"), [("1", True), ("0", False), ("", False)])
def test_environment_forces_pure_python(value: str, forced: bool) -> None:
    code = "from vhdfix.registry.marvin32 import IMPLEMENTATION; print(IMPLEMENTATION)"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "VHDFIX_PURE_PYTHON": value},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ("python" if forced or marvin32_native is None else "native")


@pytest.mark.parametrize(("seed", "data", "expected"), VECTORS)
def test_published_vectors(implementation: Marvin32, seed: int, data: str, expected: int) -> None:
    assert implementation(bytes.fromhex(data), seed) == expected


def test_default_seed_is_the_hive_log_seed(implementation: Marvin32) -> None:
    # regf spec, 'New format' / 'Log entries', note 3: seed bytes 82 EF 4D 88 7A 4E 55 C5.
    assert int.from_bytes(bytes.fromhex("82EF4D887A4E55C5"), "big") == HIVE_LOG_SEED
    data = b"abcd"
    assert implementation(data) == implementation(data, HIVE_LOG_SEED) == implementation(data, seed=HIVE_LOG_SEED)


def test_accepts_any_buffer(implementation: Marvin32) -> None:
    data = bytes(range(256)) * 3
    assert implementation(bytearray(data)) == implementation(memoryview(data)) == implementation(data)


@pytest.mark.parametrize("data", ["text", None, memoryview(b"abcdefgh")[::2]], ids=["str", "None", "strided"])
def test_rejects_what_is_not_a_contiguous_buffer(implementation: Marvin32, data: object) -> None:
    with pytest.raises((TypeError, BufferError)):
        implementation(data)


@given(data=st.binary(min_size=64, max_size=80), seed=SEEDS)
def test_same_hash_for_every_short_length_and_alignment(native: Marvin32, data: bytes, seed: int) -> None:
    view = memoryview(data)
    for length in range(65):
        assert native(view[:length], seed) == marvin32_python(view[:length], seed)
    for start in range(1, 8):
        assert native(view[start:], seed) == marvin32_python(view[start:], seed)


@settings(max_examples=50)
@given(length=st.integers(min_value=65, max_value=3 * 4096), randomness=st.randoms(use_true_random=False),
       seed=SEEDS, kind=st.sampled_from([bytes, bytearray, memoryview]))
def test_same_hash_for_longer_buffers(native: Marvin32, length: int, randomness: random.Random, seed: int,
                                      kind: type) -> None:
    # Lengths on both sides of 4096, from where the compiled version releases the GIL.
    data = kind(randomness.randbytes(length))
    assert native(data, seed) == marvin32_python(data, seed)


@given(data=st.binary(max_size=16), seed=st.integers(min_value=-(2**80), max_value=2**80))
def test_seed_is_taken_modulo_2_64(native: Marvin32, data: bytes, seed: int) -> None:
    assert native(data, seed) == marvin32_python(data, seed) == marvin32_python(data, seed % 2**64)


def test_real_log_entry_hashes(implementation: Marvin32) -> None:
    log = read_realdata("msuhanov+yarp/hives_for_tests/NewDirtyHive1/NewDirtyHive.LOG2")
    offset = 512
    assert log[offset:offset + 4] == b"HvLE"
    (size,) = struct.unpack_from("<I", log, offset + 4)
    hash_1, hash_2 = struct.unpack_from("<QQ", log, offset + 24)
    assert implementation(log[offset + 40:offset + size]) == hash_1
    assert implementation(log[offset:offset + 32]) == hash_2
