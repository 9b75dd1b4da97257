"""The archive and EWF bounds checked before dissect.target opens an input (vhdfix/fallback/bounds.py), fuzzed."""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from dissect.evidence.ewf import EWF
from hypothesis import given, settings
from hypothesis import strategies as st

from vhdfix.budget import time_budget
from vhdfix.errors import DissectFailed, FallbackTooLarge
from vhdfix.fallback import bounds
from vhdfix.fallback.bounds import (
    EOCD,
    EOCD_SIGNATURE,
    EWF_SECTION,
    EWF_SIGNATURES,
    ZIP64_EOCD,
    ZIP64_EOCD_SIGNATURE,
    ZIP64_LOCATOR,
    ZIP64_LOCATOR_SIGNATURE,
    check_archive,
    check_ewf,
    zip_central_directory,
)


def zip_bytes(names: list[str], zip64: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(b"x")
    return buffer.getvalue()


def central_directory_read_by_zipfile(data: bytes) -> tuple[int, int] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return len(archive.infolist()), archive.start_dir
    except Exception:
        return None


@pytest.mark.parametrize("comment", [b"", b"a comment PK"])
def test_the_declared_central_directory_of_a_real_zip(comment: bytes) -> None:
    data = bytearray(zip_bytes([f"fs/C:/Windows/file{index}.txt" for index in range(7)]))
    if comment:
        data[-2:] = len(comment).to_bytes(2, "little")
        data += comment
    entries, size = zip_central_directory(io.BytesIO(bytes(data)), len(data))
    assert entries == 7
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert size == sum(46 + len(info.filename.encode()) + len(info.extra) for info in archive.infolist())


@given(st.binary(max_size=4096), st.binary(max_size=300), st.integers(0, 12))
@settings(max_examples=300, deadline=None)
def test_any_bytes_give_a_count_or_none_and_bound_what_zipfile_reads(head: bytes, tail: bytes, cut: int) -> None:
    data = head + zip_bytes(["a", "b/c"])[cut:] + tail
    found = zip_central_directory(io.BytesIO(data), len(data))
    assert found is None or (found[0] >= 0 and found[1] >= 0)
    read = central_directory_read_by_zipfile(data)
    if read is not None:
        assert found is not None
        # every entry zipfile made came out of the declared central directory, 46 bytes at least each
        assert read[0] * 46 <= found[1]


def with_zip64_end_records(data: bytes) -> bytes:
    """``data`` (a zip) with zip64 end records holding the counts, and 0xFFFF... in the classic record."""
    fields = EOCD.unpack_from(data, len(data) - EOCD.size)
    entries, cd_size, cd_offset = fields[4], fields[5], fields[6]
    body = data[:len(data) - EOCD.size]
    record = ZIP64_EOCD.pack(ZIP64_EOCD_SIGNATURE, ZIP64_EOCD.size - 12, 45, 45, 0, 0, entries, entries, cd_size,
                             cd_offset)
    locator = ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIGNATURE, 0, len(body), 1)
    classic = EOCD.pack(EOCD_SIGNATURE, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + record + locator + classic


def test_a_zip64_end_record_is_the_one_read() -> None:
    data = with_zip64_end_records(zip_bytes(["one", "two", "three"]))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert len(archive.infolist()) == 3
    entries, size = zip_central_directory(io.BytesIO(data), len(data))
    assert entries == 3 and size == 3 * 46 + len(b"onetwothree")


def test_a_zip_whose_central_directory_is_too_large_is_refused(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "collection.zip"
    path.write_bytes(zip_bytes([f"fs/C:/{index}" for index in range(20)]))
    check_archive(path, "zip")
    monkeypatch.setattr(bounds, "MAX_ARCHIVE_MEMBERS", 19)
    with pytest.raises(FallbackTooLarge):
        check_archive(path, "zip")
    with pytest.raises(FallbackTooLarge):  # by content: other dissect loaders open zips too
        check_archive(path, "velociraptor")
    monkeypatch.setattr(bounds, "MAX_ARCHIVE_MEMBERS", 20)
    monkeypatch.setattr(bounds, "MAX_ZIP_CENTRAL_DIRECTORY", 100)
    with pytest.raises(FallbackTooLarge):
        check_archive(path, "zip")


def test_a_file_that_is_not_a_tar_is_dissect_failed(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(b"\x1f\x8b" + bytes(100))
    with pytest.raises(DissectFailed):
        check_archive(path, "tar")


EWF_CHUNK = 64 * 512  # sectors per chunk times bytes per sector, as the volume section below declares


def ewf_segment() -> tuple[bytes, list[int]]:
    """A one-chunk EWF segment file (libewf's EWF specification, sections 2 and 3), and its section offsets.

    The sections dissect.evidence parses: header (zlib text), volume (1052 bytes), sectors (the chunk and its
    checksum), table (one entry), done.
    """
    data = bytearray(EWF_SIGNATURES[0] + b"\x01\x01\x00\x00\x00")
    offsets: list[int] = []

    def section(kind: bytes, body: bytes, last: bool = False) -> None:
        offset = len(data)
        offsets.append(offset)
        size = EWF_SECTION.size + len(body)
        data.extend(EWF_SECTION.pack(kind, offset if last else offset + size, size, 0) + body)

    section(b"header", zlib.compress(b"1\nmain\nc\tn\ncase\t1\n\n"))
    section(b"volume", struct.pack("<B3xLLLQ", 1, 1, 64, 512, 64).ljust(1052, b"\0"))
    chunk_at = len(data) + EWF_SECTION.size
    section(b"sectors", bytes(EWF_CHUNK) + bytes(4))
    section(b"table", struct.pack("<LLQLL", 1, 0, 0, 0, 0) + struct.pack("<L", chunk_at) + bytes(4))
    section(b"done", b"", last=True)
    return bytes(data), offsets


def test_the_synthetic_segment_is_one_dissect_reads() -> None:
    data, _ = ewf_segment()
    assert EWF([io.BytesIO(data)]).open().read(EWF_CHUNK) == bytes(EWF_CHUNK)


@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from([16, 24, 76]), st.integers(0, 1 << 64)), max_size=4),
       st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=3), st.integers(0, 1 << 20))
@settings(max_examples=300, deadline=None)
def test_a_crafted_ewf_segment_is_refused_or_read_by_dissect_in_bounded_time_and_memory(
        overwrites: list[tuple[int, int, int]], links: list[tuple[int, int]], cut: int) -> None:
    """Section fields overwritten (next at +16, size at +24, a table's entry count at +76) and chains relinked."""
    seed, offsets = ewf_segment()
    data = bytearray(seed)
    for index, field, value in overwrites:
        width = 4 if field == 76 else 8
        if offsets[index] + field + width > len(data):
            continue  # the done section has no body
        struct.pack_into("<Q" if width == 8 else "<L", data, offsets[index] + field, value % (1 << (8 * width)))
    for index, target in links:
        struct.pack_into("<Q", data, offsets[index] + 16, offsets[target])
    data = data[:max(len(data) - cut, 0)] if cut < len(data) else data
    path = Path(tempfile.mkdtemp()) / "crafted.E01"
    path.write_bytes(data)
    try:
        check_ewf(path)
    except (DissectFailed, FallbackTooLarge):
        return
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    tracemalloc.start()
    try:
        with time_budget(5, "dissect.evidence on a crafted segment") as budget:
            EWF([io.BytesIO(bytes(data))])
    except Exception:
        pass  # dissect refusing it is fine (its EWFError may wrap the budget's exception): time and memory count
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert budget is not None and not budget.expired(), "dissect walked what the check let through for ever"
    assert peak < 64 << 20
