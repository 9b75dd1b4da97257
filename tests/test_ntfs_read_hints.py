"""The volume ranges of part of a non-resident stream, as the NTFS layer hints them before reading it."""

from __future__ import annotations

from vhdfix.ntfs.read_hints import HINT_BYTES, stream_ranges

CLUSTER = 4096
RUNS = [(100, 2), (None, 3), (50, 4)]  # 8 KiB at cluster 100, 12 KiB sparse, 16 KiB at cluster 50


def test_the_whole_stream_is_its_allocated_runs_in_stream_order() -> None:
    assert stream_ranges(RUNS, CLUSTER, [(0, 9 * CLUSTER)]) == [(100 * CLUSTER, 2 * CLUSTER),
                                                                (50 * CLUSTER, 4 * CLUSTER)]


def test_a_part_of_the_stream_is_cut_from_its_runs_and_sparse_runs_hold_nothing() -> None:
    assert stream_ranges(RUNS, CLUSTER, [(6000, 20_000)]) == [(100 * CLUSTER + 6000, 2 * CLUSTER - 6000),
                                                          (50 * CLUSTER, 26_000 - 5 * CLUSTER)]
    assert stream_ranges(RUNS, CLUSTER, [(2 * CLUSTER, 3 * CLUSTER)]) == []


def test_a_hint_is_bounded_whatever_the_runs_claim() -> None:
    huge = [(1, 1 << 40), (7, 1 << 40)]
    assert stream_ranges(huge, CLUSTER, [(0, 1 << 50)]) == [(CLUSTER, HINT_BYTES)]
    many = stream_ranges([(5, 1)] * 100_000, CLUSTER, [(0, 1 << 50)])
    assert many == [(5 * CLUSTER, CLUSTER)] * (HINT_BYTES // CLUSTER)


def test_many_spans_in_one_pass_as_records_of_the_mft() -> None:
    """1 KiB records 1, 3 and 10 (in the sparse run), in any order; spans across the edges of runs."""
    records = [(1024, 1024), (3 * 1024, 1024), (10 * 1024, 1024)]
    assert stream_ranges(RUNS, CLUSTER, records[::-1]) == [(100 * CLUSTER + 1024, 1024), (100 * CLUSTER + 3072, 1024)]
    assert stream_ranges(RUNS, CLUSTER, [(6 * 1024, 3 * 1024), (21 * 1024, 3 * 1024)]) == [
        (100 * CLUSTER + 6 * 1024, 2 * 1024), (50 * CLUSTER + 1024, 3 * 1024)]
