"""Where the bytes of a non-resident NTFS attribute lie on the volume.

write-path.md §3.4 (mapping pairs) and §2 (the offset chain): a file offset
becomes a VCN and an offset inside that cluster; the run holding the VCN gives
the LCN; the volume offset is ``LCN * cluster size`` plus the offset inside
the cluster. A sparse run has no LCN and so no place on the volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MappingPairsError(ValueError):
    """The mapping pairs of an attribute do not decode."""


@dataclass(frozen=True)
class Run:
    vcn: int  # first virtual cluster of the run
    lcn: int | None  # first logical cluster on the volume; None for a sparse run
    length: int  # clusters

    @property
    def end_vcn(self) -> int:
        return self.vcn + self.length


def decode_mapping_pairs(data: bytes, start: int, end: int, lowest_vcn: int = 0) -> list[Run]:
    """The runs encoded at ``data[start:end]`` (write-path.md §3.4).

    Each run is a header byte (low nibble: bytes of the length, high nibble:
    bytes of the signed LCN delta; 0 ends the list), the unsigned length, then
    the delta from the previous run's LCN. A delta size of 0 is a sparse run.
    """
    runs: list[Run] = []
    pos, vcn, lcn = start, lowest_vcn, 0
    while pos < end:
        header = data[pos]
        if header == 0:
            return runs
        length_size, delta_size = header & 0x0F, header >> 4
        if length_size == 0 or length_size > 8 or delta_size > 8 or pos + 1 + length_size + delta_size > end:
            raise MappingPairsError(f"bad mapping pairs header 0x{header:02x} at {pos}")
        length = int.from_bytes(data[pos + 1:pos + 1 + length_size], "little")
        if length <= 0:
            raise MappingPairsError(f"run of {length} clusters at {pos}")
        if delta_size:
            lcn += int.from_bytes(data[pos + 1 + length_size:pos + 1 + length_size + delta_size], "little",
                                  signed=True)
            if lcn < 0:
                raise MappingPairsError(f"negative LCN {lcn} at {pos}")
            runs.append(Run(vcn, lcn, length))
        else:
            runs.append(Run(vcn, None, length))
        vcn += length
        pos += 1 + length_size + delta_size
    raise MappingPairsError("mapping pairs run past the end of the attribute")


def runs_from_pairs(pairs: Sequence[tuple[int | None, int]]) -> list[Run]:
    """Runs from ``(lcn, cluster count)`` pairs in VCN order, as dissect.ntfs's ``dataruns()`` gives them."""
    runs: list[Run] = []
    vcn = 0
    for lcn, length in pairs:
        runs.append(Run(vcn, lcn, length))
        vcn += length
    return runs


class Extents:
    """File-offset to volume-offset mapping for one attribute."""

    def __init__(self, runs: Sequence[Run], cluster_size: int) -> None:
        self.runs = tuple(runs)
        self.cluster_size = cluster_size

    @property
    def mapped_size(self) -> int:
        """Bytes covered by the runs (the allocated size, sparse runs included)."""
        return self.runs[-1].end_vcn * self.cluster_size if self.runs else 0

    def volume_ranges(self, offset: int, length: int) -> list[tuple[int | None, int]]:
        """``(volume offset, length)`` pieces of ``[offset, offset + length)``; None for sparse pieces.

        Raises ValueError for bytes beyond the last run.
        """
        if offset < 0 or length < 0 or offset + length > self.mapped_size:
            raise ValueError(f"bytes {offset}..{offset + length} lie outside the {self.mapped_size} mapped bytes")
        pieces: list[tuple[int | None, int]] = []
        for run in self.runs:
            run_start, run_end = run.vcn * self.cluster_size, run.end_vcn * self.cluster_size
            if length == 0:
                break
            if offset >= run_end:
                continue
            take = min(length, run_end - offset)
            at = None if run.lcn is None else run.lcn * self.cluster_size + (offset - run_start)
            if pieces and at is not None and pieces[-1][0] is not None and pieces[-1][0] + pieces[-1][1] == at:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + take)
            else:
                pieces.append((at, take))
            offset += take
            length -= take
        return pieces

    def clusters(self) -> list[tuple[int, int]]:
        """``(lcn, count)`` of every allocated (non-sparse) run."""
        return [(run.lcn, run.length) for run in self.runs if run.lcn is not None]
