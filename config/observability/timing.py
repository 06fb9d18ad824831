"""The request being served, as a context variable, and the database time it
spends.

``current`` holds one ``RequestState`` per request, set by the ASGI middleware
(config/observability/middleware.py) for the time it serves the request.
Context variables follow the request into every ``sync_to_async`` call (asgiref
runs the function in a copy of the caller's context), so the async handlers,
the sync views on the handler's threads and the ORM calls made from either all
see the same object, and add to it.

Database time comes from two places:

- Django's ORM: ``time_query`` is an execute wrapper (Django's
  ``connection.execute_wrapper`` mechanism) put on every connection as it
  connects (``install_on_connect``);
- anything that talks to the database without Django's cursors, such as the
  runtime's native async reads: they call ``record_query(seconds, count)``.

A pool that Django does not know of (the native reads' async pool) is
reported in the pool gauges once its owner calls ``watch_pool``. Both hooks
live here, not in the metrics module, so calling them costs nothing when
metrics are off (prometheus_client is not even imported then).

Outside a request (management commands, tests that call the ORM directly)
``current`` is None and both cost a context-variable lookup.
"""

from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from django.db.backends.signals import connection_created


class RequestState:
    """What one request has done so far: its id, and its database time and
    queries."""

    __slots__ = ("request_id", "db_seconds", "queries")

    def __init__(self, request_id: str):
        self.request_id = request_id
        self.db_seconds = 0.0
        self.queries = 0


current: ContextVar[RequestState | None] = ContextVar("observed_request", default=None)


def record_query(seconds: float, count: int = 1) -> None:
    """Count ``count`` queries that took ``seconds`` together (wall time of
    the round trip) against the request being served, if any."""
    state = current.get()
    if state is not None:
        state.db_seconds += seconds
        state.queries += count


def time_query(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """An execute wrapper (Django's signature) timing every ORM query."""
    state = current.get()
    if state is None:
        return execute(sql, params, many, context)
    started = perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        state.db_seconds += perf_counter() - started
        state.queries += 1


def _install(sender: Any, connection: Any, **kwargs: Any) -> None:
    # connection_created fires on every connect (with the pool, once per
    # request that uses the database), on the same wrapper object each time.
    wrappers = connection.execute_wrappers
    if time_query not in wrappers:
        # First, that is outermost: ``with connection.execute_wrapper(...)``
        # blocks pop the last one, which stays theirs.
        wrappers.insert(0, time_query)


def install_on_connect() -> None:
    """Time the ORM's queries on every connection from now on."""
    connection_created.connect(_install, dispatch_uid="config.observability.timing")


# Pools Django does not know of: {(pool label, database alias): pool}, read
# by config.observability.metrics when it samples.
watched_pools: dict[tuple[str, str], Any] = {}


def watch_pool(pool_label: str, database: str, pool: Any) -> None:
    """Report a psycopg pool (sync or async) in the pool gauges from now on,
    as ``pool=pool_label, database=database``; a later call for the same pair
    replaces it."""
    watched_pools[(pool_label, database)] = pool
