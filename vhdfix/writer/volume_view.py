"""Byte-level access to the Windows NTFS volume, with the planned changes held in memory.

Planning reads records, INDX blocks and bitmap bytes through a
:class:`VolumeView`; every change goes into an in-memory *unit* (an MFT
record, an INDX block, or one cluster of file data), never to the disk. When
planning is done, :meth:`VolumeView.patches` turns the changed units into
:class:`~vhdfix.plan.BytePatch` es on the virtual disk. Records and INDX blocks
are held fixed-up and get their update-sequence fixup re-applied once, when
the patches are made (write-path.md §3.8), so a record changed by two steps is
written once with one new update sequence number.

The verifier uses a fresh view over the written copy, with no changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

from vhdfix.disk.container import Container
from vhdfix.errors import CorruptVolume, foreign_errors
from vhdfix.ntfs import NtfsVolume
from vhdfix.ntfs.extents import Extents, runs_from_pairs
from vhdfix.ntfs.fixup import apply_fixup
from vhdfix.ntfs.fixup_write import protect
from vhdfix.ntfs.mft_record import MftRecord, RecordError, parse_record
from vhdfix.plan import BytePatch
from vhdfix.writer.byte_diff import differing_runs

MFT_RECORD = 0
BITMAP_RECORD = 6  # $Bitmap
MERGE_GAP = 16


@dataclass
class Unit:
    """One MFT record, INDX block or data cluster as read, and as the plan leaves it."""

    label: str  # "MFT record 112", "INDX block VCN 0 of $I30 in MFT record 84", "cluster 386"
    ranges: tuple[tuple[int, int], ...]  # (volume offset, length), in the unit's byte order
    original: bytes  # as on disk
    current: bytearray  # fixed-up for protected units, else raw
    protected: bool
    writes: list[tuple[int, int, int, str]] = field(default_factory=list)  # (start, end, step, reason)


@dataclass(frozen=True)
class StepPatch:
    step: int  # index of the plan step the patch is attributed to (the first that wrote into it)
    patch: BytePatch


class VolumeView:
    """One NTFS volume at ``partition_offset`` of ``disk``; ``ntfs`` supplies the metafile runlists."""

    def __init__(self, disk: Container, partition_offset: int, ntfs: NtfsVolume) -> None:
        self.disk = disk
        self.partition_offset = partition_offset
        self.label = ntfs.label
        self.cluster_size = ntfs.cluster_size
        self.record_size = ntfs.record_size
        with foreign_errors(CorruptVolume, f"{self.label}: cannot locate $MFT, $MFT:$BITMAP or $Bitmap"):
            mft = ntfs.fs.mft.get(MFT_RECORD)
            self.mft = Extents(runs_from_pairs(mft.dataruns()), self.cluster_size)
            self.mft_bitmap = Extents(runs_from_pairs(mft.dataruns("", ATTRIBUTE_TYPE_CODE.BITMAP)),
                                      self.cluster_size)
            self.cluster_bitmap = Extents(runs_from_pairs(ntfs.fs.mft.get(BITMAP_RECORD).dataruns()),
                                          self.cluster_size)
        self._units: dict[tuple[object, ...], Unit] = {}

    # --- reading -------------------------------------------------------------------------------------------

    def read_volume(self, offset: int, length: int) -> bytes:
        data = self.disk.read(self.partition_offset + offset, length)
        if len(data) != length:
            raise CorruptVolume(f"{self.label}: volume bytes {offset}..{offset + length} lie past the disk")
        return data

    def _mapped(self, extents: Extents, offset: int, length: int, what: str) -> tuple[tuple[int, int], ...]:
        try:
            pieces = extents.volume_ranges(offset, length)
        except ValueError as exc:
            raise CorruptVolume(f"{self.label}: {what}: {exc}") from None
        if any(at is None for at, _ in pieces):
            raise CorruptVolume(f"{self.label}: {what} lies in a sparse run")
        return tuple((at, size) for at, size in pieces if at is not None)

    def _unit(self, key: tuple[object, ...], label: str, ranges: tuple[tuple[int, int], ...], protected: bool,
              size: int) -> Unit:
        unit = self._units.get(key)
        if unit is None:
            original = b"".join(self.read_volume(at, length) for at, length in ranges)
            # A torn block raises FixupError here; the callers turn it into their own error.
            current = bytearray(apply_fixup(original, size) if protected else original)
            unit = self._units[key] = Unit(label, ranges, original, current, protected)
        return unit

    def record_unit(self, number: int) -> Unit:
        """MFT record ``number``, fixed-up (FixupError when torn)."""
        ranges = self._mapped(self.mft, number * self.record_size, self.record_size, f"MFT record {number}")
        return self._unit(("record", number), f"MFT record {number}", ranges, True, self.record_size)

    def record(self, number: int) -> tuple[bytearray, MftRecord]:
        """The fixed-up bytes of record ``number`` (changes included) and their parse."""
        unit = self.record_unit(number)
        try:
            return unit.current, parse_record(unit.current)
        except RecordError as exc:
            raise CorruptVolume(f"{self.label}: MFT record {number}: {exc}") from None

    def index_block_unit(self, record: int, name: str, allocation: Extents, stream_offset: int, size: int,
                         vcn: int) -> Unit:
        """The INDX block at ``stream_offset`` of the ``$INDEX_ALLOCATION`` of index ``name`` in MFT record
        ``record``, fixed-up."""
        what = f"INDX block VCN {vcn} of {name} in MFT record {record}"
        ranges = self._mapped(allocation, stream_offset, size, what)
        return self._unit(("indx", record, name, vcn), what, ranges, True, size)

    def file_bytes(self, extents: Extents, offset: int, length: int, what: str) -> bytes:
        """Bytes of a non-resident stream, changes included."""
        out = bytearray()
        for at, size in self._mapped(extents, offset, length, what):
            piece = bytearray(self.read_volume(at, size))
            for lcn in range(at // self.cluster_size, (at + size - 1) // self.cluster_size + 1):
                unit = self._units.get(("cluster", lcn))
                if unit is None:
                    continue
                lo, hi = max(at, lcn * self.cluster_size), min(at + size, (lcn + 1) * self.cluster_size)
                piece[lo - at:hi - at] = unit.current[lo - lcn * self.cluster_size:hi - lcn * self.cluster_size]
            out += piece
        return bytes(out)

    def _cluster(self, lcn: int) -> Unit:
        ranges = ((lcn * self.cluster_size, self.cluster_size),)
        return self._unit(("cluster", lcn), f"cluster {lcn}", ranges, False, self.cluster_size)

    # --- changing ------------------------------------------------------------------------------------------

    @staticmethod
    def note(unit: Unit, start: int, end: int, step: int, reason: str) -> None:
        """Record that ``step`` changed bytes ``start..end`` of ``unit`` (the caller changed ``unit.current``)."""
        unit.writes.append((start, end, step, reason))

    def write_file_bytes(self, extents: Extents, offset: int, data: bytes, what: str, step: int,
                         reason: str) -> None:
        """Change bytes of a non-resident stream (a bitmap, a hive file) in memory."""
        position = 0
        for at, size in self._mapped(extents, offset, len(data), what):
            while size:
                unit = self._cluster(at // self.cluster_size)
                within = at % self.cluster_size
                take = min(size, self.cluster_size - within)
                unit.current[within:within + take] = data[position:position + take]
                self.note(unit, within, within + take, step, reason)
                at += take
                size -= take
                position += take

    def count_set_bits(self, extents: Extents, first: int, count: int, what: str) -> int:
        """How many of bits ``first..first + count`` of a bitmap stream are set."""
        start = first >> 3
        data = self.file_bytes(extents, start, ((first + count + 7) >> 3) - start, what)
        return sum(1 for number in range(first, first + count) if data[(number >> 3) - start] & (1 << (number & 7)))

    def clear_bits(self, extents: Extents, first: int, count: int, what: str, step: int, reason: str) -> None:
        """Clear bits ``first..first + count`` of a bitmap stream (bit n = byte n / 8, bit n % 8)."""
        start, end = first >> 3, (first + count + 7) >> 3
        data = bytearray(self.file_bytes(extents, start, end - start, what))
        for number in range(first, first + count):
            data[(number >> 3) - start] &= ~(1 << (number & 7)) & 0xFF
        self.write_file_bytes(extents, start, bytes(data), what, step, reason)

    # --- the plan ------------------------------------------------------------------------------------------

    def written_blocks(self) -> list[tuple[str, tuple[tuple[int, int], ...]]]:
        """Label and volume ranges of every MFT record and INDX block the plan changes."""
        return [(unit.label, unit.ranges) for unit in self._units.values() if unit.protected and unit.writes]

    def patches(self) -> list[StepPatch]:
        """Byte patches on the virtual disk for every changed unit, in disk order."""
        out: list[StepPatch] = []
        for unit in self._units.values():
            if not unit.writes:
                continue
            new = protect(unit.current) if unit.protected else bytes(unit.current)
            for start, end in _changed_spans(unit.original, new, whole=unit.protected):
                touching = [w for w in unit.writes if w[0] < end and w[1] > start] or unit.writes
                step = min(w[2] for w in touching)
                reasons = "; ".join(dict.fromkeys(w[3] for w in touching))
                for at, old, fresh in _split(unit.ranges, start, end, unit.original, new):
                    patch = BytePatch(self.partition_offset + at, old, fresh, f"{unit.label}: {reasons}")
                    out.append(StepPatch(step, patch))
        out.sort(key=lambda item: item.patch.offset)
        return out


def _changed_spans(old: bytes, new: bytes, whole: bool) -> list[tuple[int, int]]:
    """Where ``new`` differs from ``old``: one span from the first to the last difference when ``whole``
    (a record or INDX block goes out as one piece), else the runs of differing bytes, joined when fewer than
    ``MERGE_GAP`` unchanged bytes separate them (one patch per field rather than per byte)."""
    spans: list[tuple[int, int]] = []
    for start, end in differing_runs(old, new):
        if spans and (whole or start - spans[-1][1] < MERGE_GAP):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _split(ranges: tuple[tuple[int, int], ...], start: int, end: int, old: bytes,
           new: bytes) -> list[tuple[int, bytes, bytes]]:
    """``(volume offset, old, new)`` pieces of unit bytes ``start..end`` over the unit's volume ranges."""
    pieces = []
    position = 0
    for at, length in ranges:
        lo, hi = max(start, position), min(end, position + length)
        if lo < hi:
            pieces.append((at + lo - position, old[lo:hi], new[lo:hi]))
        position += length
    return pieces
