"""CRC-32C: the pure-Python reference, the compiled speedup (on the CPU's instruction and on its table), and the
choice the block digests make.

The compiled tests skip when the extension is not built, except under ``CI``, where they fail: CI must
exercise it. The pure-Python path is always tested, and compared with the compiled one.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vhdfix.copy import digests
from vhdfix.disk import crc32c as module
from vhdfix.disk.crc32c import checksum_with_field_zeroed, crc32c, crc32c_python

CHECK_VALUE = 0xE3069283  # the CRC-32C catalogue's check value, of b"123456789"
LANES = 3 * 8192  # the compiled code hashes rounds of three 8 KiB lanes


def native() -> object:
    """The compiled module; without it, skip, or fail in CI."""
    try:
        from vhdfix.disk import _crc32c  # type: ignore[attr-defined]
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the compiled CRC-32C (vhdfix.disk._crc32c) is not built; .ci/run must build it")
        pytest.skip("the compiled CRC-32C is not built (no C compiler when vhdfix was installed?)")
    return _crc32c


@pytest.fixture(params=["python", "native", "native-table"])
def implementation(request: pytest.FixtureRequest) -> Callable[..., int]:
    if request.param == "python":
        return crc32c_python
    compiled = native()
    return compiled.crc32c if request.param == "native" else compiled.crc32c_table  # type: ignore[attr-defined]


def test_check_value_and_continuation(implementation: Callable[..., int]) -> None:
    assert implementation(b"123456789") == CHECK_VALUE
    assert implementation(b"6789", implementation(b"12345")) == CHECK_VALUE
    assert implementation(b"") == 0


def test_the_compiled_crc_agrees_around_every_lane_boundary() -> None:
    compiled = native()
    data = random.Random(7).randbytes(3 * LANES + 64)
    for length in (1, 7, 8, 9, LANES - 1, LANES, LANES + 1, 2 * LANES + 8, 3 * LANES + 63):
        for start in (0, 1, 3, 8):  # unaligned starts take the byte-wise prologue
            piece = memoryview(data)[start:start + length]
            expected = crc32c_python(bytes(piece))
            assert compiled.crc32c(piece) == expected, (length, start)  # type: ignore[attr-defined]
            assert compiled.crc32c_table(piece) == expected, (length, start)  # type: ignore[attr-defined]


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3 * LANES + 100), st.data())
def test_the_compiled_crc_agrees_when_continued_from_any_cut(data: bytes, draw: st.DataObject) -> None:
    compiled = native()
    cut = draw.draw(st.integers(0, len(data)))
    continued = compiled.crc32c(data[cut:], compiled.crc32c(data[:cut]))  # type: ignore[attr-defined]
    assert continued == crc32c_python(data)


def test_a_large_buffer_is_hashed_as_a_small_one() -> None:
    """Buffers from 64 KiB are hashed without the GIL; the result is the same."""
    data = random.Random(3).randbytes(1 << 20)
    assert crc32c(data[:65536]) == crc32c_python(data[:65536])
    assert crc32c(data[65536:], crc32c(data[:65536])) == crc32c(data[:65535] + data[65535:])


def test_checksum_with_field_zeroed() -> None:
    data = random.Random(1).randbytes(70_000)
    assert checksum_with_field_zeroed(data, 4) == crc32c_python(data[:4] + bytes(4) + data[8:])


def test_the_selected_implementation() -> None:
    forced = os.environ.get("VHDFIX_PURE_PYTHON", "") not in ("", "0")
    if forced:
        assert crc32c is crc32c_python and module.HARDWARE is False
    elif module.crc32c_native is not None:
        assert crc32c is module.crc32c_native
    assert digests.CHECKSUM is (crc32c if module.HARDWARE else zlib.crc32)
    assert (0 if module.HARDWARE else 1) == digests.HASHING_THREADS


@pytest.mark.parametrize(("value", "hardware"), [("1", "False zlib"), ("", None)])
def test_environment_forces_pure_python(value: str, hardware: str | None) -> None:
    code = ("from vhdfix.disk.crc32c import HARDWARE; from vhdfix.copy.digests import CHECKSUM; "
            "print(HARDWARE, CHECKSUM.__module__)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "VHDFIX_PURE_PYTHON": value},
                          capture_output=True, text=True, check=True)
    if hardware is not None:
        assert done.stdout.split() == hardware.split()
    elif module.HARDWARE:
        assert done.stdout.split() == ["True", "vhdfix.disk._crc32c"]
