"""Keep credentials out of the logs of the HTTP stack under the Azure SDK.

urllib3 logs every request line, query string included, at DEBUG, and the
SDK's loggers log request URLs and headers at INFO/DEBUG. vhdfix turns the
SDK's own logging off on its clients (``logging_enable=False``), puts the
``azure`` loggers at WARNING unless the caller set their level, and scrubs
every record of these loggers that still gets through, whatever the level.
"""

from __future__ import annotations

import logging

from vhdfix.remote.url import redact

LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity", "urllib3.connectionpool",
           "urllib3.util.retry", "msal")


class SecretScrubber(logging.Filter):
    """Rewrites a record's message with every credential value replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


SCRUBBER = SecretScrubber()


def guard_logs() -> None:
    """Install the scrubber (idempotent); called before the first request."""
    azure = logging.getLogger("azure")
    if azure.level == logging.NOTSET:  # a level the caller chose stays; the scrubber still applies
        azure.setLevel(logging.WARNING)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if SCRUBBER not in logger.filters:
            logger.addFilter(SCRUBBER)
