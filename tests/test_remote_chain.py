"""A differencing disk by URL: its parents are the blobs of the recorded names beside it, or the given local files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.azurite import Azurite
from tests.support.vhd_builder import VhdSpec, write_vhd
from vhdfix.disk import open_disk
from vhdfix.errors import ParentMissing

SIZE = 1024 * 1024
SECTORS = SIZE // 512


def _sector(tag: int, sector: int) -> bytes:
    return hashlib.sha256(f"{tag}:{sector}".encode()).digest() * 16


@pytest.fixture(scope="module")
def chain(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """base.vhd <- top.vhd, as local files and as block blobs in chain/, and the merged bytes."""
    folder = tmp_path_factory.mktemp("remote-chain")
    base = {s: _sector(0, s) for s in range(0, SECTORS, 3)}
    top = {s: _sector(2, s) for s in range(100, 900)}
    write_vhd(folder / "base.vhd", VhdSpec(SIZE, b"B" * 16, base))
    write_vhd(folder / "top.vhd", VhdSpec(SIZE, b"T" * 16, top, b"B" * 16, "base.vhd",
                                          [(b"W2ku", "D:\\Hyper-V\\Disks\\base.vhd")]))
    for name in ("base.vhd", "top.vhd"):
        azurite.upload_block_blob(f"chain/{name}", (folder / name).read_bytes())
    merged = bytearray(SIZE)
    for layer in (base, top):
        for sector, data in layer.items():
            merged[sector * 512:(sector + 1) * 512] = data
    return folder, bytes(merged)


def test_the_parent_is_the_blob_beside_the_child(azurite: Azurite, chain: tuple[Path, bytes],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, merged = chain
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    disk = open_disk(azurite.url("chain/top.vhd"))
    try:
        assert [link.path for link in disk.chain] == [azurite.url("chain/top.vhd"), azurite.url("chain/base.vhd")]
        assert disk.read(0, SIZE) == merged
    finally:
        disk.close()


def test_a_sas_for_the_child_alone_does_not_reach_the_parent(azurite: Azurite, chain: tuple[Path, bytes]) -> None:
    url = azurite.sas_url("chain/top.vhd")
    with pytest.raises(ParentMissing) as missing:
        open_disk(url)
    assert "--parent" in missing.value.message and url.split("?")[1] not in missing.value.message


def test_a_local_parent_can_be_given(azurite: Azurite, chain: tuple[Path, bytes]) -> None:
    folder, merged = chain
    disk = open_disk(azurite.sas_url("chain/top.vhd"), [folder / "base.vhd"])
    try:
        assert disk.read(0, SIZE) == merged and disk.chain[1].path == str(folder / "base.vhd")
    finally:
        disk.close()
