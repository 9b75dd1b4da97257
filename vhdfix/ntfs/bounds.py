"""Open an NTFS volume with dissect.ntfs such that no size read from the volume is trusted unchecked.

dissect.ntfs takes the record size, the cluster size and attribute sizes as it
finds them, and reads whole streams for some attributes (KNOWN_ISSUES.md): a
crafted boot sector or record makes it read the whole volume, or allocate
what an attribute claims, into one ``bytes``. Here the boot sector's geometry is
checked before dissect sees it, ``NTFS`` is assembled the way its constructor
does (without the ``$Secure`` and ``$UsnJrnl`` lookups, which vhdfix does not
use), and every MFT record dissect fetches passes :func:`check_record` before
its attributes are parsed.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import Any

from dissect.ntfs import NTFS
from dissect.ntfs.c_ntfs import ATTRIBUTE_FLAG_COMPRESSION_MASK, ATTRIBUTE_TYPE_CODE, c_ntfs
from dissect.ntfs.mft import Mft, MftRecord
from dissect.ntfs.util import AttributeCollection

from vhdfix.disk.stream import ReadOnlyStream
from vhdfix.errors import CorruptVolume

SECTOR_SIZES = (512, 1024, 2048, 4096)
MAX_CLUSTER_SIZE = 2 * 1024 * 1024  # NTFS's largest cluster
MIN_RECORD_SIZE, MAX_RECORD_SIZE = 512, 64 * 1024  # MFT records are 1 KiB or 4 KiB in practice
MAX_ATTRIBUTE_LIST = 256 * 1024  # Windows does not grow an $ATTRIBUTE_LIST beyond 256 KiB
MAX_COMPRESSION_UNIT = 64 * 1024  # NTFS compresses in units of 16 clusters of at most 4 KiB
# dissect reads these whole when it parses a record; NTFS keeps them resident (MS-FSCC 2.4 / ntfs-3g layout.h).
ALWAYS_RESIDENT = {ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION.value: "$STANDARD_INFORMATION",
                   ATTRIBUTE_TYPE_CODE.FILE_NAME.value: "$FILE_NAME",
                   ATTRIBUTE_TYPE_CODE.VOLUME_NAME.value: "$VOLUME_NAME",
                   ATTRIBUTE_TYPE_CODE.VOLUME_INFORMATION.value: "$VOLUME_INFORMATION",
                   ATTRIBUTE_TYPE_CODE.INDEX_ROOT.value: "$INDEX_ROOT"}  # plain ints: dissect's enum hashes apart
_ATTRIBUTE_HEADER = struct.Struct("<IIB")
_FILE_SIZE_AT = 48
_END_MARKER = 0xFFFFFFFF


def _power_of_two(value: int, low: int, high: int) -> bool:
    return low <= value <= high and not value & (value - 1)


def _unit_size(clusters: int, cluster_size: int) -> int:
    """The MFT record size as dissect computes it: clusters, or 2^-n bytes when negative."""
    return 1 << -clusters if clusters < 0 else clusters * cluster_size


def check_geometry(boot: c_ntfs.BOOT_SECTOR, volume_size: int, label: str) -> None:
    """The boot sector's sizes are ones NTFS can have, and the MFT starts inside the volume."""
    sector = boot.Bpb.BytesPerSector
    raw = boot.Bpb.SectorsPerCluster
    sectors = 1 << -raw if raw & 0xFF > 0x80 else raw & 0xFF
    cluster = sector * sectors
    problem = None
    if sector not in SECTOR_SIZES:
        problem = f"{sector} bytes per sector"
    elif not _power_of_two(cluster, sector, MAX_CLUSTER_SIZE):
        problem = f"a cluster of {cluster} bytes"
    elif not _power_of_two(_unit_size(boot.ClustersPerFileRecordSegment, cluster), MIN_RECORD_SIZE,
                           MAX_RECORD_SIZE):
        problem = f"MFT records of {_unit_size(boot.ClustersPerFileRecordSegment, cluster)} bytes"
    elif boot.MftStartLcn * cluster + MIN_RECORD_SIZE > volume_size:
        problem = f"the MFT at cluster {boot.MftStartLcn}, outside the volume"
    if problem:
        raise CorruptVolume(f"{label}: the NTFS boot sector declares {problem}")


def check_record(record: MftRecord, label: str) -> None:
    """Refuse a record whose attributes would make dissect read an unbounded stream (see the module)."""
    data = record.data
    at = record.header.FirstAttributeOffset
    while at + _ATTRIBUTE_HEADER.size <= len(data):
        kind, length, non_resident = _ATTRIBUTE_HEADER.unpack_from(data, at)
        if kind == _END_MARKER or length == 0:
            return
        if non_resident:
            if kind in ALWAYS_RESIDENT:
                raise CorruptVolume(f"{label}: MFT record {record.segment} has a non-resident {ALWAYS_RESIDENT[kind]}")
            if kind == ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST and at + _FILE_SIZE_AT + 8 <= len(data) and \
                    struct.unpack_from("<Q", data, at + _FILE_SIZE_AT)[0] > MAX_ATTRIBUTE_LIST:
                raise CorruptVolume(f"{label}: MFT record {record.segment} has an $ATTRIBUTE_LIST of more than "
                                    f"{MAX_ATTRIBUTE_LIST} bytes")
        at += length


def check_stream(attributes: AttributeCollection, cluster_size: int, volume_size: int, where: str) -> None:
    """Before dissect opens a non-resident stream: its size fits the volume, and a compressed one has the
    compression unit and the run list its size implies (dissect expands the whole run list into
    compression units when the stream is opened)."""
    header = attributes[0].header
    if header.resident:
        return
    size = attributes.size()
    if size > volume_size:
        raise CorruptVolume(f"{where}: a stream of {size} bytes on a volume of {volume_size}")
    if header.flags & ATTRIBUTE_FLAG_COMPRESSION_MASK:
        unit = cluster_size << header.compression_unit if header.compression_unit < 32 else 0
        clusters = sum(count for _, count in attributes.dataruns())
        if not 0 < unit <= MAX_COMPRESSION_UNIT or clusters * cluster_size > -(-size // unit) * unit:
            raise CorruptVolume(f"{where}: a compressed stream of {size} bytes with {clusters} clusters in "
                                f"compression units of {unit} bytes")


def _checked_get(mft: Mft, label: str) -> Callable[..., MftRecord]:
    fetch = mft.get  # dissect's own (cached) lookup

    def get(ref: Any, *args: Any, **kwargs: Any) -> MftRecord:
        record = fetch(ref, *args, **kwargs)
        check_record(record, label)
        return record
    return get


def open_ntfs(stream: ReadOnlyStream, boot: c_ntfs.BOOT_SECTOR, label: str) -> NTFS:
    """``NTFS(stream)``, assembled step by step with the checks above (dissect.ntfs 3.16 ``NTFS.__init__``)."""
    check_geometry(boot, stream.size, label)
    fs = NTFS(boot=stream, sds=io.BytesIO(), usnjrnl=io.BytesIO())
    fs.fh = stream
    mft_record = MftRecord.from_fh(stream, boot.MftStartLcn * fs.cluster_size, ntfs=fs)
    mft_record.segment = 0
    check_record(mft_record, label)
    fs.mft = Mft(mft_record.open(), ntfs=fs)
    fs.mft.get = _checked_get(fs.mft, label)  # type: ignore[method-assign]
    if ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST in mft_record.attributes:
        # $MFT's own $DATA may continue in other records; each one extends the runlist as it is found.
        for attribute in mft_record.attributes[ATTRIBUTE_TYPE_CODE.ATTRIBUTE_LIST].attributes():
            if attribute.type == ATTRIBUTE_TYPE_CODE.DATA:
                fs.mft.fh.runlist += attribute.dataruns()
    return fs
