"""Django's PostgreSQL backend that fails fast while the database is down.

When getting a connection fails (the pool found none within ``DB_POOL_TIMEOUT``,
or the server refused), every other attempt in the next
``DB_FAIL_FAST_SECONDS`` fails at once with the same OperationalError instead
of waiting out the timeout again; after that one attempt at a time probes the
database while the rest keep failing fast, until one succeeds.

Every wait on the server also has a deadline (``DeadlineConnection``): a
statement, commit or pool health check that gets no answer within
``DB_QUERY_TIMEOUT`` plus a second closes its connection and raises
OperationalError (a 503). The server's own ``statement_timeout`` (set to
``DB_QUERY_TIMEOUT`` by config/settings.py) ends a slow statement first; the
deadline is for a server that answers nothing at all, such as a stopped one,
whose kernel still acknowledges every packet: psycopg's sync waits have no
limit of their own.

Why: the ASGI handler runs sync work on a few long-lived threads per worker
(config/runtime/handler.py). Without this, requests queued behind one waiting on a
dead database would each wait a whole pool timeout in turn; with it, only the
probe waits and the others get their 503 at once. It also sheds load when
every connection stays busy past the pool timeout.

Everything else is Django's backend: ``ENGINE = "config.runtime.postgresql"``.
"""

import threading
import time
from collections.abc import Generator
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from psycopg import errors


class ConnectBreaker:
    """Per-process state of the connection attempts to one database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing_since: float | None = None  # None: the last attempt succeeded
        self._retry_at = 0.0
        self._probing = False

    def before_attempt(self, cooldown: float) -> None:
        """Raise at once if the database failed recently, else let the
        attempt go on (as the single probe, if it has been failing)."""
        if self._failing_since is None or cooldown <= 0:
            return
        with self._lock:
            if self._failing_since is None:
                return
            if self._probing or time.monotonic() < self._retry_at:
                down_for = time.monotonic() - self._failing_since
                raise psycopg.OperationalError(
                    f"database unavailable: connecting failed {down_for:.1f}s ago and "
                    "has not succeeded since (failing fast)"
                )
            self._probing = True

    def succeeded(self) -> None:
        if self._failing_since is not None:
            with self._lock:
                self._failing_since, self._probing = None, False

    def abandoned(self) -> None:
        """The attempt ended without telling whether the database is up (it
        was cancelled): let another one probe."""
        if self._probing:
            with self._lock:
                self._probing = False

    def failed(self, cooldown: float) -> None:
        with self._lock:
            now = time.monotonic()
            if self._failing_since is None:
                self._failing_since = now
            self._retry_at = now + cooldown
            self._probing = False


_breakers: dict[str, ConnectBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(alias: str) -> ConnectBreaker:
    with _breakers_lock:
        return _breakers.setdefault(alias, ConnectBreaker())


# Past the server's statement_timeout, so that a server that is up reports
# its own cancellation (and the connection stays usable) before the client
# gives up on it.
DEADLINE_GRACE_SECONDS = 1.0


class NoAnswer(psycopg.OperationalError):
    """The server answered nothing by the deadline; the connection is closed."""


def answer_deadline() -> float | None:
    """Seconds a wait on the server may take, or None for no limit."""
    timeout: float = settings.DB_QUERY_TIMEOUT
    return timeout + DEADLINE_GRACE_SECONDS if timeout > 0 else None


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server (a statement and
    its rows, commit, rollback, the pool's health check) ends by
    ``answer_deadline()``. psycopg runs all of them through ``wait()``."""

    def wait(
        self, gen: Generator[Any, Any, Any], interval: float = 0.1, timeout: float | None = None
    ) -> Any:
        deadline = answer_deadline() if timeout is None else timeout
        try:
            return super().wait(gen, interval=interval, timeout=deadline)
        except errors._WaitTimeout:
            if timeout is not None:
                raise  # the caller's own timeout (notifies())
            # Mid-exchange, the connection is in no state to reuse: close it, as
            # psycopg does when a cancelled query will not end.
            self.pgconn.finish()
            raise NoAnswer(
                f"database unavailable: no answer within {deadline:.1f}s, connection closed"
            ) from None


class DeadlineAsyncConnection(psycopg.AsyncConnection[Any]):
    """``DeadlineConnection`` for asyncio: the connections of the native
    async reads (config/runtime/native_db.py)."""

    async def wait(
        self,
        gen: Generator[Any, Any, Any],
        interval: float = 0.1,
        timeout: float | None = None,  # noqa: ASYNC109  (psycopg's signature)
    ) -> Any:
        deadline = answer_deadline() if timeout is None else timeout
        try:
            return await super().wait(gen, interval=interval, timeout=deadline)
        except errors._WaitTimeout:
            if timeout is not None:
                raise
            # Not psycopg's cancel request on the way out: a stopped server
            # would not answer that either.
            self.pgconn.finish()
            raise NoAnswer(
                f"database unavailable: no answer within {deadline:.1f}s, connection closed"
            ) from None


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        pool = settings_dict.get("OPTIONS", {}).get("pool")
        if pool:
            # The pool makes its connections with the class its options name.
            pool_options = {} if pool is True else pool
            options = {**settings_dict["OPTIONS"], "pool": {**pool_options}}
            options["pool"]["connection_class"] = DeadlineConnection
            settings_dict = {**settings_dict, "OPTIONS": options}
        super().__init__(settings_dict, alias)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        breaker = breaker_for(self.alias)
        cooldown = settings.DB_FAIL_FAST_SECONDS
        breaker.before_attempt(cooldown)
        try:
            connection = super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            breaker.failed(cooldown)
            raise
        breaker.succeeded()
        if type(connection) is psycopg.Connection:
            # Without the pool Django connects with psycopg.connect(); the
            # subclass adds behaviour only, so the object can take it on.
            connection.__class__ = DeadlineConnection
        return connection
