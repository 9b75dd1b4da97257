"""Independent ranges of a blob are fetched side by side; a failure among them gives its code, sticks, hangs nothing.

Every failure is the real server's (Azurite stopped, the blob deleted or rewritten), made at a known point: after
the blob was opened and before the parallel fetch starts.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.azurite import Azurite

pytest.importorskip("azure.storage.blob")

from vhdfix.errors import RemoteChanged, RemoteNotFound, RemoteUnreachable, VhdfixError
from vhdfix.remote import BlobUrl, open_blob
from vhdfix.remote.blob_image import BLOCK_SIZE, FETCH_BLOCKS, PREFETCH_BLOCKS, BlobImage
from vhdfix.remote.credentials import Transport

MiB = 1 << 20
SIZE = 64 * MiB
# Data at three places far apart, and a long run: every block of a hint below holds pages.
PAGES = [(0, 64 * 1024), (8 * MiB, 64 * 1024), (20 * MiB, 512 * 1024), (32 * MiB, 3 * MiB)]
SCATTERED = [(8 * MiB + 512, 4096), (20 * MiB, 70_000), (100, 1000)]
# Connection refused is retried once after 0.1 s + 2 s of backoff: real, short retries.
SHORT = Transport(connection_timeout=2.0, read_timeout=5.0, retries=1, initial_backoff=0.1, jitter=0.0)


def pattern(offset: int, length: int) -> bytes:
    return bytes((offset + i) * 13 % 251 + 1 for i in range(length))


def expected(offset: int, length: int) -> bytes:
    data = bytearray(length)
    for start, size in PAGES:
        low, high = max(start, offset), min(start + size, offset + length)
        if high > low:
            data[low - offset:high - offset] = pattern(low, high - low)
    return bytes(data)


def upload(azurite: Azurite, name: str) -> str:
    client = azurite.blob(name)
    client.create_page_blob(SIZE)
    for offset, length in PAGES:
        for start in range(offset, offset + length, 4 * MiB):
            step = min(4 * MiB, offset + length - start)
            client.upload_page(pattern(start, step), offset=start, length=step)
    return azurite.sas_url(name)


@pytest.fixture(scope="module")
def blob(azurite: Azurite) -> str:
    return upload(azurite, "parallel.vhd")


def listed(image: BlobImage) -> int:
    """The requests so far, once the blob's page map is listed (so that a count below is only ranged GETs)."""
    list(image.data_extents(0, SIZE))
    return image.requests


def test_a_hint_fetches_its_scattered_runs_once_each_and_reads_then_cost_nothing(blob: str) -> None:
    with open_blob(BlobUrl.parse(blob)) as image:
        before, rounds = listed(image), image.rounds
        image.prefetch(SCATTERED)
        assert (image.requests, image.rounds) == (before + 3, rounds + 1)  # one ranged GET per run, side by side
        # whole blocks, and a read's READ_AHEAD blocks after each range, trimmed to the pages they hold:
        # 8 MiB: blocks 0-1 of 4 hold pages, 20 MiB: 3 + 3 blocks, 100: blocks 0-1 of 4
        assert image.bytes_downloaded == (2 + 6 + 2) * BLOCK_SIZE
        for offset, length in SCATTERED:
            assert image.read_at(offset, length) == expected(offset, length)
        assert image.requests == before + 3
        image.prefetch(SCATTERED)  # cached already: nothing to fetch
        assert image.requests == before + 3


def test_a_long_hinted_run_goes_in_pieces_side_by_side(blob: str) -> None:
    with open_blob(BlobUrl.parse(blob)) as image:
        before = listed(image)
        image.prefetch([(32 * MiB, 3 * MiB)])
        assert image.requests == before + 3 * MiB // (FETCH_BLOCKS * BLOCK_SIZE)
        assert image.bytes_downloaded == 3 * MiB
        assert image.read_at(32 * MiB - 10, 3 * MiB + 20) == expected(32 * MiB - 10, 3 * MiB + 20)
        assert image.requests == before + 3 * MiB // (FETCH_BLOCKS * BLOCK_SIZE)  # no pages around it: no request


def test_a_hint_is_bounded(blob: str) -> None:
    with open_blob(BlobUrl.parse(blob)) as image:
        image.prefetch([(0, SIZE)])
        assert len(image._cache._blocks) == PREFETCH_BLOCKS


def test_a_read_fetches_its_missing_runs_side_by_side(blob: str) -> None:
    with open_blob(BlobUrl.parse(blob)) as image:
        before = listed(image)
        image.read_at(20 * MiB + 4 * BLOCK_SIZE, 1)  # caches blocks 4..7 of the data (a miss reads 3 blocks ahead)
        assert image.requests == before + 1
        rounds = image.rounds
        assert image.read_at(20 * MiB, 12 * BLOCK_SIZE) == expected(20 * MiB, 12 * BLOCK_SIZE)
        # blocks 0..3 and 8..11 (with 3 blocks of read-ahead) are missing: two requests, side by side
        assert (image.requests, image.rounds) == (before + 1 + 2, rounds + 1)
        assert image.bytes_downloaded == (4 + 4 + 4 + 3) * BLOCK_SIZE


def test_the_server_stopped_before_a_parallel_fetch(own_azurite: Azurite) -> None:
    image = BlobImage(BlobUrl.parse(upload(own_azurite, "stopped.vhd")), SHORT)
    try:
        before = listed(image)
        own_azurite.stop()
        with pytest.raises(RemoteUnreachable) as raised:
            image.prefetch(SCATTERED)
        assert raised.value.code == "remote-unreachable" and "reading" in raised.value.message
        assert_sticky(image, raised.value, before)
    finally:
        image.close()


@pytest.mark.parametrize(("change", "errors"), [
    # a GET with If-Match of a deleted blob: Azurite answers 412, the other answer would be 404
    (lambda azurite, name: azurite.blob(name).delete_blob(), (RemoteChanged, RemoteNotFound)),
    (lambda azurite, name: azurite.blob(name).upload_page(bytes(512), offset=0, length=512), (RemoteChanged,)),
], ids=["deleted", "rewritten"])
def test_the_blob_changed_before_a_parallel_fetch(azurite: Azurite, change: Callable[[Azurite, str], None],
                                                  errors: tuple[type[VhdfixError], ...]) -> None:
    name = f"changed-{len(errors)}.vhd"
    with open_blob(BlobUrl.parse(upload(azurite, name))) as image:
        before = listed(image)
        change(azurite, name)
        with pytest.raises(errors) as raised:
            image.prefetch(SCATTERED)
        assert_sticky(image, raised.value, before)


def assert_sticky(image: BlobImage, failure: VhdfixError, before: int) -> None:
    """The failure comes back from every later read, hint and check, without another request."""
    after = image.requests
    assert after <= before + len(SCATTERED)  # nothing was retried once the failure was known
    for again in (lambda: image.read_at(0, 10), lambda: image.prefetch([(0, 10)]), image.check_unchanged):
        with pytest.raises(VhdfixError) as raised:
            again()
        assert raised.value is failure
    assert image.requests == after
