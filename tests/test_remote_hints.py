"""The NTFS layer's read hints cross the partition and the container to the blob: a hinted file then reads with no
request, and gives the local file's bytes. A local disk ignores hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from tests.support.azurite import Azurite
from tests.support.samples import PA, sample

pytest.importorskip("azure.storage.blob")

from vhdfix.disk import Container, open_disk
from vhdfix.ntfs.read_hints import stream_ranges
from vhdfix.partitions import read_partition_table
from vhdfix.remote.blob_image import BLOCK_SIZE, READ_AHEAD
from vhdfix.windows.volume import SYSTEM_HIVE, WindowsVolume, find_windows_volume

# A fixed VHD as a page blob (the blob is the disk), a dynamic VHD and a VHDX as block blobs (their BATs translate).
DISKS = [(f"{PA}-gpt-vhd-fixed", "page"), (f"{PA}-mbr-vhd-dynamic", "block"), (f"{PA}-mbr-vhdx-dynamic", "block")]
LIMIT = 1 << 30


def windows(disk: Container) -> WindowsVolume:
    return find_windows_volume(disk, read_partition_table(disk))[0]


def hive_ranges(volume: WindowsVolume) -> list[tuple[int, int]]:
    """The volume ranges of the SYSTEM hive's data."""
    record = volume.ntfs.record(SYSTEM_HIVE)
    assert record is not None
    runs = record.attributes.find("", ATTRIBUTE_TYPE_CODE.DATA).dataruns()
    return stream_ranges(runs, volume.ntfs.cluster_size, [(0, record.size())])


@pytest.mark.parametrize(("name", "blob_type"), DISKS)
def test_a_hinted_file_reads_without_a_request(azurite: Azurite, samples: Path, name: str, blob_type: str) -> None:
    local = sample(name, samples)
    blob = f"hints/{blob_type}/{local.name}"
    if blob_type == "page":
        azurite.upload_page_blob(blob, local.read_bytes())
    else:
        azurite.upload_block_blob(blob, local.read_bytes())
    remote, on_disk = open_disk(azurite.sas_url(blob)), open_disk(local)
    try:
        by_url, here = windows(remote), windows(on_disk)
        ranges = hive_ranges(by_url)
        before, downloaded = remote.image.requests, remote.image.bytes_downloaded
        by_url.ntfs.stream.will_read(ranges)
        hinted = remote.image.requests
        # the hint fetches the blocks of its ranges and the read-ahead a read of them would have, no more
        assert remote.image.bytes_downloaded - downloaded <= sum(length for _, length in ranges) + \
            (2 + READ_AHEAD) * BLOCK_SIZE * len(ranges)
        assert hinted > before  # the hive was not cached yet: the hint fetched it
        found = by_url.ntfs.read_file(SYSTEM_HIVE, LIMIT)
        assert remote.image.requests == hinted  # every byte read was fetched by the hint
        assert found is not None and found == here.ntfs.read_file(SYSTEM_HIVE, LIMIT)
    finally:
        remote.close()
        on_disk.close()


def test_a_local_disk_ignores_hints(samples: Path) -> None:
    disk = open_disk(sample(f"{PA}-mbr-vhdx-dynamic", samples))
    try:
        volume = windows(disk)
        ranges = hive_ranges(volume)
        before = disk.bytes_read
        volume.ntfs.stream.will_read(ranges)
        assert disk.bytes_read == before
    finally:
        disk.close()
