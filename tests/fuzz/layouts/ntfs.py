"""NTFS structures of a seed volume: boot sector, MFT records, INDX blocks and $LogFile restart pages.

Records and blocks are mutated in their fixed-up form and protected again
(``seal``), so the mutation reaches the parsers instead of the fixup check.
"""

from __future__ import annotations

import contextlib
import io
import struct
from collections.abc import Sequence

from dissect.ntfs import NTFS
from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from tests.fuzz.model import Extent, Field, Unit, int_fields
from vhdfix.ntfs.fixup import FixupError, apply_fixup
from vhdfix.ntfs.fixup_write import protect

BOOT_FIELDS = ((11, 2, "bytes_per_sector"), (13, 1, "sectors_per_cluster"), (14, 2, "reserved_sectors"),
               (21, 1, "media"), (40, 8, "total_sectors"), (48, 8, "mft_lcn"), (56, 8, "mftmirr_lcn"),
               (64, 1, "clusters_per_record"), (68, 1, "clusters_per_index_buffer"), (72, 8, "serial"))
RECORD_FIELDS = ((4, 2, "usa_ofs"), (6, 2, "usa_count"), (16, 2, "sequence_number"), (18, 2, "link_count"),
                 (20, 2, "first_attribute_offset"), (22, 2, "flags"), (24, 4, "bytes_in_use"),
                 (28, 4, "bytes_allocated"), (32, 8, "base_record"), (44, 4, "record_number"))
ATTRIBUTE_FIELDS = ((0, 4, "type"), (4, 4, "length"), (8, 1, "non_resident"), (9, 1, "name_length"),
                    (10, 2, "name_offset"), (12, 2, "flags"))
RESIDENT_FIELDS = ((16, 4, "value_length"), (20, 2, "value_offset"))
NONRESIDENT_FIELDS = ((16, 8, "lowest_vcn"), (24, 8, "highest_vcn"), (32, 2, "mapping_pairs_offset"),
                      (34, 2, "compression_unit"), (40, 8, "allocated_size"), (48, 8, "file_size"),
                      (56, 8, "valid_data_size"))
INDEX_ROOT_FIELDS = ((0, 4, "attribute_type"), (4, 4, "collation_rule"), (8, 4, "bytes_per_index_buffer"),
                     (12, 1, "clusters_per_index_buffer"))
INDEX_HEADER_FIELDS = ((0, 4, "first_entry_offset"), (4, 4, "total_size"), (8, 4, "allocated_size"),
                       (12, 1, "flags"))
INDEX_ENTRY_FIELDS = ((0, 8, "file_reference"), (8, 2, "length"), (10, 2, "key_length"), (12, 2, "flags"))
RESTART_FIELDS = ((8, 8, "chkdsk_lsn"), (16, 4, "system_page_size"), (20, 4, "log_page_size"),
                  (24, 2, "restart_area_offset"), (26, 2, "minor_ver"), (28, 2, "major_ver"))
RESTART_AREA_FIELDS = ((0, 8, "current_lsn"), (8, 2, "log_clients"), (10, 2, "client_free_list"),
                       (12, 2, "client_in_use_list"), (14, 2, "flags"), (16, 4, "seq_number_bits"),
                       (20, 2, "restart_area_length"), (22, 2, "client_array_offset"), (24, 8, "file_size"))
SIZE_HINTS = (0, 1, 4096, 1 << 20, 1 << 32, 1 << 40, (1 << 63) - 1, (1 << 64) - 1)
MAX_RECORDS = 400
MAX_INDEX_BLOCKS = 64
MAX_ENTRIES = 24


def _unseal(size: int):
    def unseal(raw: bytes) -> bytes:
        try:
            return apply_fixup(raw, size)
        except FixupError:
            return raw
    return unseal


def _seal(data: bytearray) -> None:
    with contextlib.suppress(FixupError, struct.error):  # a broken update sequence array stays as it is
        data[:] = protect(data)


def _stream_extents(runs: Sequence[tuple[int | None, int]], cluster: int, base: int, start: int,
                    length: int) -> tuple[Extent, ...]:
    """Where bytes ``start``..``start + length`` of a non-resident stream lie in the disk file."""
    extents: list[Extent] = []
    position = 0
    for lcn, count in runs:
        run_bytes = count * cluster
        low, high = max(start, position), min(start + length, position + run_bytes)
        if low < high and lcn is not None:
            extents.append((low - start, base + lcn * cluster + low - position, high - low))
        position += run_bytes
    return tuple(extents)


def _index_entries(prefix: str, data: bytes, header_at: int, own_vcn: int | None, hints: tuple[int, ...],
                   own_record: int) -> list[Field]:
    """Fields of an index header at ``header_at`` and of its entries."""
    fields = int_fields(prefix, header_at, INDEX_HEADER_FIELDS,
                        hints={"first_entry_offset": (0, 16, 0x10, 0x28, 0xFFFF), "total_size": (0, 0xFFFFFFFF)})
    first, total = struct.unpack_from("<II", data, header_at)
    at, end = header_at + first, min(len(data), header_at + total)
    for index in range(MAX_ENTRIES):
        if at + 16 > end:
            break
        length, _, flags = struct.unpack_from("<HHH", data, at + 8)
        fields += int_fields(f"{prefix}entry{index}.", at, INDEX_ENTRY_FIELDS,
                             hints={"file_reference": (own_record, 5, 0, 0xFFFFFFFFFFFF), "length": (0, 8, 16, 0xFFFF),
                                    "flags": (0, 1, 2, 3)})
        if flags & 1 and length >= 24 and at + length <= len(data):
            fields.append(Field(at + length - 8, 8, f"{prefix}entry{index}.node_vcn",
                                hints=(*hints, *(() if own_vcn is None else (own_vcn,)))))
        if flags & 2 or length < 16:
            break
        at += length
    return fields


def _record_fields(data: bytes, own: int, cluster: int) -> list[Field]:
    fields = int_fields("", 0, RECORD_FIELDS, hints={"base_record": (own, 0, 5), "flags": (0, 1, 2, 3)})
    at = struct.unpack_from("<H", data, 20)[0]
    for index in range(32):
        if at + 16 > len(data):
            break
        kind, length = struct.unpack_from("<II", data, at)
        if kind == 0xFFFFFFFF or length < 16 or at + length > len(data):
            break
        prefix = f"attr{index}:{kind:#x}."
        fields += int_fields(prefix, at, ATTRIBUTE_FIELDS, hints={"type": (0x10, 0x20, 0x30, 0x80, 0x90, 0xA0,
                                                                           0xC0, 0xFFFFFFFF),
                                                                  "non_resident": (0, 1), "flags": (0, 1, 0x8000)})
        if data[at + 8] == 0:
            fields += int_fields(prefix, at, RESIDENT_FIELDS)
            value_at = at + struct.unpack_from("<H", data, at + 20)[0]
            if kind == 0x90 and value_at + 32 <= len(data):
                fields += int_fields(prefix + "root.", value_at, INDEX_ROOT_FIELDS,
                                     hints={"bytes_per_index_buffer": (0, 512, 4096, cluster, 1 << 31, 0xFFFFFFFF)})
                fields += _index_entries(prefix + "root.", data, value_at + 16, None, (0, 1), own)
            elif kind == 0x30 and value_at + 66 <= len(data):
                fields += [Field(value_at, 8, prefix + "parent", hints=(own, 5, 0)),
                           Field(value_at + 64, 1, prefix + "name_length", hints=(0, 1, 0xFF))]
        else:
            fields += int_fields(prefix, at, NONRESIDENT_FIELDS, hints={name: SIZE_HINTS for name in
                                                                        ("allocated_size", "file_size", "highest_vcn",
                                                                         "valid_data_size")})
            runs_at = at + struct.unpack_from("<H", data, at + 32)[0]
            fields += [Field(offset, 1, f"{prefix}run_byte{offset - runs_at}")
                       for offset in range(runs_at, min(at + length, runs_at + 24))]
        at += length
    return fields


def ntfs_units(file: str, data: bytes, base: int, size: int) -> list[Unit]:
    """Units of the NTFS volume at ``base`` (``size`` bytes) of the disk file ``data``."""
    volume = data[base:base + size]
    fs = NTFS(io.BytesIO(volume))
    cluster, record_size = fs.cluster_size, fs._record_size
    boot_hints = {"bytes_per_sector": (0, 256, 512, 4096, 0x8000, 0xFFFF),
                  "sectors_per_cluster": (0, 1, 3, 8, 0x80, 0xF4, 0xE0, 0x81, 0xFF),
                  "clusters_per_record": (0, 1, 0xF6, 0xF4, 0x81, 0xC0, 0x7F, 0xE0),
                  "clusters_per_index_buffer": (0, 1, 0xF4, 0x81, 0xC0, 0x7F),
                  "mft_lcn": (0, 1, size // cluster, size // cluster - 1, 1 << 40),
                  "total_sectors": (0, size // 512, size // 512 * 2)}
    units = [Unit("ntfs.boot", file, ((0, base, 512),), tuple(int_fields("", 0, BOOT_FIELDS, hints=boot_hints)),
                  weight=3)]
    mft_runs = fs.mft.fh.runlist
    count = min(MAX_RECORDS, fs.mft.get(0).size() // record_size)
    for number in range(count):
        extents = _stream_extents(mft_runs, cluster, base, number * record_size, record_size)
        raw = b"".join(data[at:at + length] for _, at, length in extents)
        if raw[:4] != b"FILE" or len(raw) != record_size:
            continue
        fixed = _unseal(record_size)(raw)
        weight = 2.0 if number < 16 else 1.0
        units.append(Unit(f"ntfs.mft[{number}]", file, extents, tuple(_record_fields(fixed, number, cluster)),
                          _seal, _unseal(record_size), weight=weight))
        units += _index_units(fs, volume, file, base, number)
    units += _logfile_units(fs, volume, file, base)
    return units


def _index_units(fs: NTFS, volume: bytes, file: str, base: int, number: int) -> list[Unit]:
    cluster = fs.cluster_size
    try:
        record = fs.mft.get(number)
        allocation = record.attributes.find("$I30", ATTRIBUTE_TYPE_CODE.INDEX_ALLOCATION)
        if not allocation:
            return []
        block = record.index("$I30").root.bytes_per_index_buffer
        runs, length = allocation.dataruns(), allocation.size()
    except Exception:  # a seed structure dissect cannot read is simply not mutated
        return []
    blocks = [offset for offset in range(0, length, block)][:MAX_INDEX_BLOCKS]
    vcns = tuple(offset // min(block, cluster) for offset in blocks)
    units = []
    for offset, vcn in zip(blocks, vcns, strict=True):
        extents = _stream_extents(runs, cluster, base, offset, block)
        if sum(part for _, _, part in extents) != block:
            continue
        unseal = _unseal(block)
        raw = bytearray(block)
        for start, at, part in extents:
            raw[start:start + part] = volume[at - base:at - base + part]
        fixed = unseal(bytes(raw))
        if fixed[:4] != b"INDX":
            continue
        fields = int_fields("", 0, ((4, 2, "usa_ofs"), (6, 2, "usa_count"), (16, 8, "vcn")), hints={"vcn": vcns})
        fields += _index_entries("", fixed, 24, vcn, vcns, number)
        units.append(Unit(f"ntfs.indx[{number}]@{vcn}", file, extents, tuple(fields), _seal, unseal, weight=2))
    return units


def _logfile_units(fs: NTFS, volume: bytes, file: str, base: int) -> list[Unit]:
    cluster = fs.cluster_size
    try:
        runs = fs.mft.get(2).dataruns()
    except Exception:
        return []
    units = []
    for page in range(2):
        extents = _stream_extents(runs, cluster, base, page * 4096, 4096)
        if sum(part for _, _, part in extents) != 4096:
            continue
        raw = b"".join(volume[at - base:at - base + part] for _, at, part in extents)
        if raw[:4] not in (b"RSTR", b"CHKD"):
            continue
        area = struct.unpack_from("<H", raw, 24)[0]
        fields = int_fields("", 0, RESTART_FIELDS, hints={"system_page_size": (0, 512, 4096, 8192, 1 << 31),
                                                           "major_ver": (1, 2, 0xFFFF), "minor_ver": (0, 1, 2)})
        fields += int_fields("area.", area, RESTART_AREA_FIELDS, hints={"client_in_use_list": (0, 0xFFFF)})
        units.append(Unit(f"ntfs.logfile.restart{page}", file, extents, tuple(fields), _seal, _unseal(4096)))
    return units
