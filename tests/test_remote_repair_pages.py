"""The blob output puts exactly the pages that hold data, whatever the pieces' alignment: pieces that share a
512-byte page end up in it together, zero pages are never sent, and no request exceeds 4 MiB."""

from __future__ import annotations

import pytest

from tests.support.azurite import Azurite
from tests.support.remote_repair import blob_bytes, page_ranges, write_sas_url
from vhdfix.copy.blob_output import MAX_PUT, PAGE, BlobOutput, page_runs
from vhdfix.remote import BlobUrl

MiB = 1 << 20


def pattern(length: int, seed: int) -> bytes:
    return bytes((i * 13 + seed) % 255 + 1 for i in range(length))


def test_page_runs_leave_out_zero_pages_and_cut_at_4_mib() -> None:
    data = bytes(PAGE) + b"\x01" * PAGE + bytes(2 * PAGE) + b"\x02" * (MAX_PUT + PAGE)
    assert page_runs(data) == [(PAGE, 2 * PAGE), (4 * PAGE, 4 * PAGE + MAX_PUT), (4 * PAGE + MAX_PUT, len(data))]
    assert page_runs(bytes(4 * PAGE)) == []


def test_unaligned_pieces_sharing_pages(azurite: Azurite) -> None:
    big = pattern(5 * MiB + 77, 3)  # longer than one Put Page, ending inside a page
    pieces = [(100, pattern(300, 1)), (700, pattern(10, 2)), (1000, pattern(30, 4)), (4096, bytes(MiB)),
              (2 * MiB + 5, big), (2 * MiB + 5 + len(big) + 3, b"\x07"), (15 * MiB, b"\x09" * 512)]
    url = write_sas_url(azurite, "pieces.vhd")
    with BlobOutput(BlobUrl.parse(url), 16 * MiB) as out:
        for offset, data in pieces:
            out.write_at(offset, data)
        out.commit()
    expected = bytearray(16 * MiB + PAGE)
    for offset, data in pieces:
        expected[offset:offset + len(data)] = data
    assert blob_bytes(azurite, "pieces.vhd") == bytes(expected)
    pages = {at for at in range(0, len(expected), PAGE) if any(expected[at:at + PAGE])}
    listed = {at for offset, length in page_ranges(azurite, "pieces.vhd")
              for at in range(offset, offset + length, PAGE)}
    assert listed == pages and out.bytes_written == len(pages) * PAGE
    assert out.puts >= -(-len(big) // MAX_PUT) + 3 and out.bytes_sent == out.bytes_written


def test_an_interrupted_output_deletes_the_blob_it_created(azurite: Azurite) -> None:
    url = write_sas_url(azurite, "undone.vhd")
    with pytest.raises(KeyboardInterrupt), BlobOutput(BlobUrl.parse(url), 16 * MiB) as out:
        out.write_at(0, pattern(6 * MiB, 5))
        raise KeyboardInterrupt
    assert out.cleanup == "deleted" and not azurite.blob("undone.vhd").exists()
