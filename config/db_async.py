"""Natively asynchronous evaluation of ``values()`` querysets on PostgreSQL.

Django 5.2's async ORM (``aget``, ``async for`` …) runs every query in a worker
thread through ``sync_to_async``: correct, but each hop costs about a
millisecond of wall time under load. For the hottest read endpoints we keep the
queryset (built, filtered and compiled to SQL by the ORM, with its converters
applied to the rows) and only move the I/O: the compiled SQL runs on a psycopg
``AsyncConnection`` from an async pool on the event loop, with no thread hop.

Elsewhere (SQLite, ``NATIVE_ASYNC_DB`` off, or an event loop other than the
server's) ``fetch`` falls back to plain async iteration over the same
queryset, so both paths return the same rows and the same tests cover them.

The async pool belongs to one event loop: the server's, bound by the ASGI
lifespan startup (config.handlers). Code running in any other loop, such as
the short-lived loops ``async_to_sync`` makes for an async view under WSGI or
the test client, takes the fallback rather than a pool tied to a dead loop.
Native queries are logged like Django's own (``connection.queries``,
``CaptureQueriesContext``) whenever Django would log its queries.

Compiling a queryset costs a few hundred microseconds; ``fetch`` keeps
the SQL and parameters of recent shapes (an LRU keyed by ``cache_key``, which
the caller builds from everything that shapes the query) so a popular page is
compiled once. Only SQL is cached, never rows: every call reads the database.
"""

import asyncio
import functools
import logging
import time
from collections import OrderedDict

import psycopg
from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.db.utils import load_backend
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from config.postgresql.base import breaker_for

logger = logging.getLogger(__name__)

_pool: AsyncConnectionPool | None = None
_bound_loop: asyncio.AbstractEventLoop | None = None

_SQL_CACHE_SIZE = 512
_sql_cache: OrderedDict = OrderedDict()


def bind_to_running_loop() -> None:
    """Use native async reads in the running event loop (the server's)."""
    global _bound_loop
    _bound_loop = asyncio.get_running_loop()


@functools.cache
def _vendor(using: str) -> str:
    """The vendor of a database alias, read off its backend class: under ASGI
    ``connections[using]`` would build a connection object in every request's
    context just to answer this."""
    return load_backend(connections.settings[using]["ENGINE"]).DatabaseWrapper.vendor


def native_enabled(using: str = "default") -> bool:
    if not settings.NATIVE_ASYNC_DB or _vendor(using) != "postgresql":
        return False
    try:
        return asyncio.get_running_loop() is _bound_loop
    except RuntimeError:
        return False


async def get_pool(using: str = "default") -> AsyncConnectionPool:
    """The process's async pool, opened on first use in the bound loop."""
    global _pool
    if _pool is None:
        wrapper = connections[using]
        kwargs = wrapper.get_connection_params()
        # Django's Cursor is a sync client-side-binding cursor; use the async
        # equivalent so the SQL Django compiled binds the same way.
        kwargs["cursor_factory"] = psycopg.AsyncClientCursor
        kwargs["autocommit"] = True
        pool_options = wrapper.settings_dict["OPTIONS"].get("pool") or {}
        pool = AsyncConnectionPool(
            kwargs=kwargs,
            min_size=settings.NATIVE_ASYNC_DB_POOL_MIN_SIZE,
            max_size=settings.NATIVE_ASYNC_DB_POOL_MAX_SIZE,
            timeout=pool_options.get("timeout", 5.0),
            # psycopg's default backs off for up to 300 s after losing the
            # database; follow Django's pool so both recover together.
            reconnect_timeout=pool_options.get("reconnect_timeout", 300.0),
            # No check per checkout (a round trip per query); a connection
            # broken by a database restart fails its query, is discarded by
            # the pool, and the read is retried once on a fresh one.
            open=False,
            name="native-async",
        )
        _pool = pool  # set before the first await: one pool per process
        await pool.open(wait=False)
    return _pool


async def close_pool() -> None:
    """Close the pool and stop using native reads (ASGI shutdown, tests)."""
    global _pool, _bound_loop
    pool, _pool, _bound_loop = _pool, None, None
    if pool is not None:
        await pool.close()


def _query_logging_connection(using: str):
    """The connection whose query log Django would add this query to, or
    None. With debug off only a connection that already exists in this
    context can be logging (``CaptureQueriesContext``): look, without building
    one per request."""
    if settings.DEBUG:
        return connections[using]
    for wrapper in connections.all(initialized_only=True):
        if wrapper.alias == using and wrapper.queries_logged:
            return wrapper
    return None


async def _rows(cursor) -> list[tuple]:
    # A statement that returns no rows (DELETE, UPDATE) has no description.
    return await cursor.fetchall() if cursor.description is not None else []


async def _execute(pool: AsyncConnectionPool, sql: str, params: tuple) -> list[list[tuple]]:
    """Rows of each statement of ``sql``, retried once on a connection that
    turns out to be broken (e.g. after a database restart)."""
    for attempt in (1, 2):
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                results = [await _rows(cursor)]
                while cursor.nextset():
                    results.append(await _rows(cursor))
            return results
        except PoolTimeout:
            raise  # no connection to be had: retrying would only double the wait
        except psycopg.OperationalError:
            if attempt == 2:
                raise
            logger.warning("native async read: connection lost, retrying once")


async def _run(using: str, statements: list[tuple[str, tuple]]) -> list[list[tuple]]:
    """Run (sql, params) statements on one pooled connection and return each
    one's rows. They go as one multi-statement query (the cursor binds
    parameters client-side, as Django's does), so one round trip for all."""
    pool = await get_pool(using)
    sql = "; ".join(statement for statement, _ in statements)
    params = tuple(param for _, statement_params in statements for param in statement_params)
    started = time.monotonic()
    # While the database is down, fail at once like Django's connections do
    # (config.postgresql), rather than each request waiting out the pool's
    # timeout in turn.
    breaker = breaker_for(using)
    cooldown = settings.DB_FAIL_FAST_SECONDS
    breaker.before_attempt(cooldown)
    try:
        results = await _execute(pool, sql, params)
    except psycopg.OperationalError:  # PoolTimeout included
        breaker.failed(cooldown)
        raise
    except BaseException:  # the client went away, a bad statement
        breaker.abandoned()
        raise
    breaker.succeeded()
    if (wrapper := _query_logging_connection(using)) is not None:
        elapsed = f"{time.monotonic() - started:.3f}"
        wrapper.queries_log.extend(
            {"sql": f"{statement} -- params {statement_params!r}", "time": elapsed}
            for statement, statement_params in statements
        )
    return results


def _cached(cache_key):
    if cache_key is None:
        return None
    entry = _sql_cache.get(cache_key)
    if entry is not None:
        _sql_cache.move_to_end(cache_key)
    return entry


def _compile(queryset: QuerySet, cache_key):
    query = queryset.query
    compiler = query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    select = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
    converters = compiler.get_converters(select)
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    compiled = (sql, tuple(params), compiler, converters, names)
    if cache_key is not None:
        _sql_cache[cache_key] = compiled
        if len(_sql_cache) > _SQL_CACHE_SIZE:
            _sql_cache.popitem(last=False)
    return compiled


class Read:
    """One read for ``fetch``: the rows of a ``values()`` queryset, or with
    ``count=True`` its number of rows. ``build`` makes the queryset; it is
    called only when the SQL is not cached. ``cache_key`` (hashable, or None
    for no caching) must change whenever anything that shapes the SQL or its
    parameters changes."""

    def __init__(self, build, *, cache_key=None, count: bool = False):
        self.build = build
        self.cache_key = cache_key
        self.count = count


async def fetch(*reads: Read) -> list:
    """Results of the reads, in order: a list of dicts for a rows read, an int
    for a count. On PostgreSQL all of them go to the database in one round
    trip on the event loop; elsewhere they run through the async ORM."""
    using = "default"
    if not native_enabled(using):
        results = []
        for read in reads:
            queryset = read.build().all()  # a fresh clone: never a cached result
            if read.count:
                results.append(await queryset.acount())
            else:
                results.append([row async for row in queryset])
        return results
    statements, compiled = [], []
    for read in reads:
        key = None if read.cache_key is None else (read.count, read.cache_key)
        entry = _cached(key)
        if entry is None:
            queryset = read.build()
            if read.count:
                queryset = queryset.order_by().values("pk")
            if queryset.query.is_empty():  # .none(): nothing to ask the database
                compiled.append(None)
                continue
            entry = _compile(queryset, key)
        sql, params = entry[0], entry[1]
        if read.count:
            sql = f"SELECT COUNT(*) FROM ({sql}) AS counted"  # noqa: S608
        statements.append((sql, params))
        compiled.append(entry)
    raw_results = iter(await _run(using, statements) if statements else [])
    results = []
    for read, entry in zip(reads, compiled, strict=True):
        if entry is None:
            results.append(0 if read.count else [])
            continue
        raw = next(raw_results)
        if read.count:
            results.append(raw[0][0])
            continue
        _, _, compiler, converters, names = entry
        rows = compiler.apply_converters(raw, converters) if converters else raw
        results.append([dict(zip(names, row, strict=True)) for row in rows])
    return results


async def execute(sql: str, params=(), *, using: str = "default") -> list[tuple]:
    """Rows of one raw SQL statement (autocommit), natively on PostgreSQL.
    Callers check ``native_enabled()`` first; for small writes that must not
    cost a thread hop (the rate-limit counters)."""
    (rows,) = await _run(using, [(sql, tuple(params))])
    return rows


async def fetch_values(queryset: QuerySet, *, cache_key=None) -> list[dict]:
    """Rows of a ``values()`` queryset as dicts (see ``fetch``)."""
    (rows,) = await fetch(Read(lambda: queryset, cache_key=cache_key))
    return rows


async def fetch_count(queryset: QuerySet, *, cache_key=None) -> int:
    """``queryset.count()`` (see ``fetch``)."""
    (count,) = await fetch(Read(lambda: queryset, cache_key=cache_key, count=True))
    return count
