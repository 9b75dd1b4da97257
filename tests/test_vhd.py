"""VHD: footer and header validation, differencing chains, parent lookup."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.vhd_builder import VhdSpec, write_vhd
from vhdfix.disk import open_disk
from vhdfix.errors import (
    BadChecksum,
    CorruptContainer,
    NotADiskImage,
    ParentLoop,
    ParentMismatch,
    ParentMissing,
    Truncated,
    VhdfixError,
)

SIZE = 1024 * 1024
SECTORS = SIZE // 512


def _sector(tag: int, sector: int) -> bytes:
    return hashlib.sha256(f"{tag}:{sector}".encode()).digest() * 16


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """base.vhd (dynamic) <- mid.vhd <- top.vhd, and the merged bytes Hyper-V would present."""
    folder = tmp_path_factory.mktemp("chain")
    base = {s: _sector(0, s) for s in range(0, SECTORS, 3)}
    mid = {s: _sector(1, s) for s in range(5, SECTORS, 7)}
    top = {s: _sector(2, s) for s in range(100, 900)}
    write_vhd(folder / "base.vhd", VhdSpec(SIZE, b"B" * 16, base))
    write_vhd(folder / "mid.vhd", VhdSpec(SIZE, b"M" * 16, mid, b"B" * 16, "base.vhd",
                                          [(b"W2ru", ".\\base.vhd"), (b"W2ku", "C:\\VMs\\base.vhd")]))
    write_vhd(folder / "top.vhd", VhdSpec(SIZE, b"T" * 16, top, b"M" * 16, "mid.vhd",
                                          [(b"W2ku", "D:\\Hyper-V\\Disks\\mid.vhd")]))
    merged = bytearray(SIZE)
    for layer in (base, mid, top):
        for sector, data in layer.items():
            merged[sector * 512:(sector + 1) * 512] = data
    return folder, bytes(merged)


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(0, SIZE + 100), length=st.integers(0, 300_000))
def test_differencing_chain_reads_merge_every_layer(chain: tuple[Path, bytes], offset: int, length: int) -> None:
    folder, merged = chain
    disk = open_disk(folder / "top.vhd")
    try:
        assert disk.read(offset, length) == merged[offset:offset + length]
    finally:
        disk.close()


def test_chain_is_reported_child_first(chain: tuple[Path, bytes]) -> None:
    folder, _ = chain
    disk = open_disk(folder / "top.vhd")
    assert [Path(link.path).name for link in disk.chain] == ["top.vhd", "mid.vhd", "base.vhd"]
    assert [link.variant for link in disk.chain] == ["differencing", "differencing", "dynamic"]
    disk.close()


def test_explicit_parent_overrides_lookup(chain: tuple[Path, bytes], tmp_path: Path) -> None:
    folder, merged = chain
    (tmp_path / "elsewhere").mkdir()
    moved = tmp_path / "elsewhere" / "renamed-mid.vhd"
    moved.write_bytes((folder / "mid.vhd").read_bytes())
    (tmp_path / "top.vhd").write_bytes((folder / "top.vhd").read_bytes())
    with pytest.raises(ParentMissing):
        open_disk(tmp_path / "top.vhd")
    disk = open_disk(tmp_path / "top.vhd", parents=[moved, folder / "base.vhd"])
    assert disk.read(0, SIZE) == merged
    disk.close()


def test_wrong_parent_is_a_mismatch_not_zeros(chain: tuple[Path, bytes]) -> None:
    folder, _ = chain
    with pytest.raises(ParentMismatch):
        open_disk(folder / "top.vhd", parents=[folder / "base.vhd"])


def test_stored_absolute_paths_are_not_followed_by_default(tmp_path: Path) -> None:
    write_vhd(tmp_path / "child.vhd", VhdSpec(SIZE, b"C" * 16, {}, b"P" * 16, "",
                                              [(b"W2ru", "..\\other\\p.vhd")]))
    (tmp_path.parent / "other").mkdir(exist_ok=True)
    write_vhd(tmp_path.parent / "other" / "p.vhd", VhdSpec(SIZE, b"P" * 16, {0: _sector(9, 0)}))
    with pytest.raises(ParentMissing, match="follow-parent-paths"):
        open_disk(tmp_path / "child.vhd")
    disk = open_disk(tmp_path / "child.vhd", follow_locator_paths=True)
    assert disk.read(0, 512) == _sector(9, 0)
    disk.close()


def test_a_parent_that_points_back_is_a_loop(tmp_path: Path) -> None:
    write_vhd(tmp_path / "a.vhd", VhdSpec(SIZE, b"A" * 16, {}, b"B" * 16, "b.vhd"))
    write_vhd(tmp_path / "b.vhd", VhdSpec(SIZE, b"B" * 16, {}, b"A" * 16, "a.vhd"))
    with pytest.raises(ParentLoop):
        open_disk(tmp_path / "a.vhd")


def test_damaged_trailing_footer_falls_back_to_the_copy_at_offset_0(chain: tuple[Path, bytes],
                                                                     tmp_path: Path) -> None:
    folder, _ = chain
    data = bytearray((folder / "base.vhd").read_bytes())
    data[-512 + 40] ^= 0xFF  # original_size: checksum no longer matches
    (tmp_path / "base.vhd").write_bytes(bytes(data))
    disk = open_disk(tmp_path / "base.vhd")
    assert any("trailing VHD footer is damaged" in w for w in disk.warnings)
    assert disk.read(0, 512) == _sector(0, 0)
    disk.close()


def test_footers_that_fail_their_checksum_and_disagree_are_refused(chain: tuple[Path, bytes],
                                                                     tmp_path: Path) -> None:
    folder, _ = chain
    data = bytearray((folder / "base.vhd").read_bytes())
    data[-512 + 40] ^= 0xFF
    data[41] ^= 0xFF
    (tmp_path / "x.vhd").write_bytes(bytes(data))
    with pytest.raises(BadChecksum):
        open_disk(tmp_path / "x.vhd")


def test_agreeing_footers_with_a_stale_checksum_are_used_with_a_warning(chain: tuple[Path, bytes],
                                                                         tmp_path: Path) -> None:
    folder, _ = chain
    data = bytearray((folder / "base.vhd").read_bytes())
    data[-512 + 64] ^= 0x01
    data[64] ^= 0x01
    (tmp_path / "s.vhd").write_bytes(bytes(data))
    disk = open_disk(tmp_path / "s.vhd")
    assert any("footer checksum mismatch" in w for w in disk.warnings)
    disk.close()


def test_broken_footer_cookie_is_not_a_disk_image(chain: tuple[Path, bytes], tmp_path: Path) -> None:
    folder, _ = chain
    data = bytearray((folder / "base.vhd").read_bytes())
    data[-512] ^= 0xFF
    data[0] ^= 0xFF
    (tmp_path / "c.vhd").write_bytes(bytes(data))
    with pytest.raises(NotADiskImage):
        open_disk(tmp_path / "c.vhd")


def test_truncated_dynamic_vhd(chain: tuple[Path, bytes], tmp_path: Path) -> None:
    folder, _ = chain
    data = (folder / "base.vhd").read_bytes()
    (tmp_path / "t.vhd").write_bytes(data[: len(data) // 2] + data[-512:])
    with pytest.raises(Truncated):
        open_disk(tmp_path / "t.vhd")


def test_corrupt_dynamic_header_block_size(chain: tuple[Path, bytes], tmp_path: Path) -> None:
    folder, _ = chain
    data = bytearray((folder / "base.vhd").read_bytes())
    data[512 + 35] ^= 0x01  # block_size no longer a power of two
    (tmp_path / "h.vhd").write_bytes(bytes(data))
    with pytest.raises(CorruptContainer):
        open_disk(tmp_path / "h.vhd")


def test_fixed_vhd_shorter_than_declared(tmp_path: Path) -> None:
    from tests.support.vhd_builder import footer_bytes

    spec = VhdSpec(SIZE, b"F" * 16)
    footer = bytearray(footer_bytes(spec, 2, 0xFFFFFFFFFFFFFFFF))
    (tmp_path / "f.vhd").write_bytes(bytes(SIZE // 2) + bytes(footer))
    with pytest.raises(Truncated):
        open_disk(tmp_path / "f.vhd")


@pytest.mark.parametrize(("content", "code"), [
    (b"", "not-a-disk-image"),
    (os.urandom(4096), "not-a-disk-image"),
    (b"conectix" + bytes(504), "corrupt-container"),
], ids=["empty", "random", "zero-footer"])
def test_non_images_are_refused(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "disk.vhd"
    path.write_bytes(content)
    with pytest.raises(VhdfixError) as caught:
        open_disk(path)
    assert caught.value.code == code


def test_real_differencing_vhd_reads_its_parent(realdata: Path, tmp_path: Path) -> None:
    """dfvfs image-differential.vhd over image.vhd: the merged disk is the parent's ext2 image."""
    folder = realdata / "log2timeline+dfvfs" / "test_data"
    before = hashlib.sha256((folder / "image-differential.vhd").read_bytes()).hexdigest()
    disk = open_disk(folder / "image-differential.vhd")
    parent = open_disk(folder / "image.vhd")
    try:
        assert [Path(link.path).name for link in disk.chain] == ["image-differential.vhd", "image.vhd"]
        assert disk.virtual_size == parent.virtual_size
        assert struct.unpack_from("<H", disk.read(0x438, 2))[0] == 0xEF53
        step = 1 << 20
        for offset in range(0, disk.virtual_size, step):
            assert disk.read(offset, step) == parent.read(offset, step)
    finally:
        disk.close()
        parent.close()
    assert hashlib.sha256((folder / "image-differential.vhd").read_bytes()).hexdigest() == before


def test_real_differencing_vhd_without_parent_is_refused(realdata: Path) -> None:
    with pytest.raises(ParentMissing, match=r"fat-parent\.vhd"):
        open_disk(realdata / "log2timeline+dfvfs" / "test_data" / "fat-differential.vhd")
