"""Log records that say which request they belong to, as text or JSON lines.

``RequestIdFilter`` is on every handler in ``LOGGING`` (config/settings.py),
beside the redaction filter: it stamps each record with the id of the request
being served when it was written (``request_id``, ``-`` outside a request),
whichever logger wrote it, Django's and the apps' included.

``LOG_FORMAT`` picks the console's formatter: ``text`` (the default in debug)
is one readable line per record; ``json`` (the default otherwise) is one JSON
object per line, for a log pipeline, built by ``JsonFormatter``. Access lines
(config/observability/middleware.py) carry their fields as ``record.http``,
which the JSON formatter writes as top-level keys.
"""

import logging
import time
from typing import Any

import orjson

from config.observability.timing import current


class RequestIdFilter(logging.Filter):
    """Add ``record.request_id``: the id of the request being served, or
    ``-``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            state = current.get()
            record.request_id = state.request_id if state is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``,
    ``logger``, ``message``, ``request_id``, an access line's fields, and
    ``exception`` / ``stack`` when the record has them. Runs after the
    handler's filters, so the message and traceback are already redacted."""

    _second = -1
    _second_text = ""

    def _time(self, record: logging.LogRecord) -> str:
        # Formatting a datetime costs more than the rest of an access line's
        # JSON; the text changes only once a second but for the milliseconds
        # (logging's own, as in the text format's asctime).
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        http = getattr(record, "http", None)
        if http is not None:
            entry.update(http)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()
