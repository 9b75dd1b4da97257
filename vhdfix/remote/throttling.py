"""Throttling retried with backoff: the SDK's storage retry policy retries HTTP 503 (ServerBusy) but not 429."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import HttpResponseError

from vhdfix.remote.credentials import Transport

TOO_MANY_REQUESTS = 429

T = TypeVar("T")


def retry_throttled(call: Callable[[], T], transport: Transport) -> T:
    """``call()``, again after a backoff when the server answers 429, up to ``transport.retries`` times."""
    attempt = 0
    while True:
        try:
            return call()
        except HttpResponseError as exc:
            if exc.status_code != TOO_MANY_REQUESTS or attempt >= transport.retries:
                raise
        time.sleep(transport.initial_backoff + transport.backoff_base ** attempt)
        attempt += 1
