"""The blob reader: a page blob's pages are its allocation map, reads are cached and coalesced."""

from __future__ import annotations

import pytest

from tests.support.azurite import Azurite

pytest.importorskip("azure.storage.blob")

from vhdfix.remote import BlobUrl, open_blob
from vhdfix.remote.blob_image import BLOCK_SIZE, CACHE_BLOCKS
from vhdfix.remote.page_map import WINDOW

SIZE = 2 * WINDOW + 512 * 1024
PAGES = [(0, 4096), (WINDOW - 1024, 2048), (WINDOW + 4096, 512), (SIZE - 1024, 1024)]


def pattern(offset: int, length: int) -> bytes:
    return bytes((offset + i) * 7 % 251 + 1 for i in range(length))


@pytest.fixture(scope="module")
def sparse_blob(azurite: Azurite) -> str:
    """A page blob of two windows and more, with a few pages, one across a window's edge."""
    client = azurite.blob("sparse.vhd")
    client.create_page_blob(SIZE)
    for offset, length in PAGES:
        client.upload_page(pattern(offset, length), offset=offset, length=length)
    return azurite.sas_url("sparse.vhd")


def test_page_ranges_are_the_data_extents_across_windows(sparse_blob: str) -> None:
    with open_blob(BlobUrl.parse(sparse_blob)) as image:
        assert list(image.data_extents(0, SIZE)) == PAGES
        assert list(image.data_extents(WINDOW - 512, WINDOW + 2048)) == [(WINDOW - 512, 1536)]


def test_holes_read_as_zeros_without_a_request(sparse_blob: str) -> None:
    with open_blob(BlobUrl.parse(sparse_blob)) as image:
        image.data_extents(0, SIZE).__next__()  # lists the first window
        before = image.requests
        assert image.read_at(WINDOW // 2, 1 << 20) == bytes(1 << 20)
        assert image.requests == before and image.bytes_downloaded == 0


def test_reads_are_exact_cached_and_coalesced(sparse_blob: str) -> None:
    with open_blob(BlobUrl.parse(sparse_blob)) as image:
        start = WINDOW - 4096
        expected = bytearray(8192)
        expected[3072:5120] = pattern(WINDOW - 1024, 2048)
        assert image.read_at(start, 8192) == bytes(expected)
        # Get Blob Properties, one listing per window, and one ranged GET from the first page of the two blocks read
        # and the three read ahead to the last: WINDOW - 1024 to WINDOW + 4608
        assert (image.requests, image.bytes_downloaded) == (4, 5632)
        assert image.read_at(WINDOW + 4096, 600) == pattern(WINDOW + 4096, 512) + bytes(88)
        assert image.read_at(start + 100, 50) == bytes(expected[100:150]) and image.requests == 4
        assert image.read_at(SIZE - 1000, 5000) == pattern(SIZE - 1000, 1000)
        assert image.bytes_read == 8192 + 600 + 50 + 1000


def test_memory_is_bounded(sparse_blob: str) -> None:
    with open_blob(BlobUrl.parse(sparse_blob)) as image:
        image.read_at(0, (CACHE_BLOCKS + 10) * BLOCK_SIZE)
        assert len(image._cache._blocks) == CACHE_BLOCKS
