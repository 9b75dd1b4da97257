"""The pool that fetches a blob's ranges side by side: bounded in flight, results in order, failures stop it, and no
wait outlasts its bound. The fetch here is a plain function whose progress the test controls (threading events), so
nothing depends on timing but the bound itself."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("azure.storage.blob")

from vhdfix.errors import RemoteAuthFailed, RemoteUnreachable
from vhdfix.remote.parallel_fetch import ParallelFetch

SPANS = [(offset * 100, 10 + offset) for offset in range(12)]


def content(offset: int, length: int) -> bytes:
    return bytes([offset % 256]) * length


def test_results_come_in_order_with_at_most_workers_in_flight() -> None:
    lock, running, most = threading.Lock(), [0], [0]
    gate = threading.Barrier(3, timeout=30)  # the first three fetches meet: they do run side by side

    def fetch(offset: int, length: int) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if offset < 300:
            gate.wait()
        with lock:
            running[0] -= 1
        return content(offset, length)

    pool = ParallelFetch(3, 30.0, "blob")
    try:
        assert pool.map(fetch, SPANS) == [content(offset, length) for offset, length in SPANS]
        assert most[0] == 3
    finally:
        pool.close()


def test_the_first_failure_stops_new_fetches_and_is_raised() -> None:
    started: list[int] = []

    def fetch(offset: int, length: int) -> bytes:
        started.append(offset)
        if offset == 100:
            raise RemoteAuthFailed("blob: reading: access refused")
        return content(offset, length)

    pool = ParallelFetch(1, 30.0, "blob")
    try:
        with pytest.raises(RemoteAuthFailed):
            pool.map(fetch, SPANS)
        assert started == [0, 100]  # one at a time: nothing started after the failure
    finally:
        pool.close()


def test_a_wait_is_bounded() -> None:
    release = threading.Event()

    def fetch(offset: int, length: int) -> bytes:
        release.wait(30)  # never set before the bound has passed
        return content(offset, length)

    pool = ParallelFetch(2, 0.2, "http://127.0.0.1/account/disks/stuck.vhd")
    try:
        with pytest.raises(RemoteUnreachable) as raised:
            pool.map(fetch, SPANS[:2])
        assert raised.value.code == "remote-unreachable"
        assert "no answer to 2 ranged reads within 0.2 s" in str(raised.value)
    finally:
        release.set()
        pool.close()
