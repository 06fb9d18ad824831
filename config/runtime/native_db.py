"""Natively asynchronous evaluation of ``values()`` querysets on PostgreSQL.

The two calls app code makes into the runtime::

    from config.runtime.native_db import evaluate, filtered

    (rows, genre_rows), total = await evaluate(page, genres_of_page, count=movies)
    one_movie = filtered(all_movie_rows, pk=movie_id)  # all_movie_rows.filter(pk=movie_id)

(``filtered`` is near the end: a long-lived queryset filtered the same way
on every request, without building the filter with the ORM every time.)

Django 5.2's async ORM (``aget``, ``async for`` …) runs every query in a worker
thread through ``sync_to_async``: correct, but each hop costs far more wall
time under load than the query itself. ``evaluate`` keeps the querysets (built,
filtered and compiled to SQL by the ORM, with its converters applied to the
rows) and moves only the I/O: on PostgreSQL the compiled SQL of all of them
goes as one multi-statement query to a psycopg ``AsyncConnection`` from an
async pool, on the event loop, with no thread hop.

Elsewhere (SQLite, ``NATIVE_ASYNC_DB`` off, or an event loop other than the
server's) it falls back to plain async iteration and ``acount()`` over the
same querysets, so both paths return the same rows and the same tests cover
them.

The async pools (one per database alias, opened on first use) belong to one
event loop: the server's, bound by the ASGI lifespan startup
(config.runtime.handler). Code running in any other loop, such as the
short-lived loops ``async_to_sync`` makes for an async view under WSGI or the
test client, takes the fallback rather than a pool tied to a dead loop.
Native queries are logged like Django's own (``connection.queries``,
``CaptureQueriesContext``) whenever Django would log its queries.

Compiling a queryset costs more than running a small query. ``evaluate``
therefore keeps compiled SQL in a bounded LRU (``SQL_CACHE_SIZE`` entries)
keyed by the *shape* of each query, derived from the queryset alone
(``sql_shape``): every attribute of its ``Query``, with the plain values that
its filters compare against taken out as slots. A shape's first query is
compiled twice, once with its own values and once with stand-in values, and
the SQL is shared only if the two compilations prove where each value lands
in the parameters; otherwise the values stay part of the key. So two
querysets that differ in a filter value share SQL but never parameters, and
two that differ in anything else (a slice, a field, an ordering) never share.
Only SQL is cached, never rows: every call reads the database.

PostgreSQL plans every statement sent to it as text, and for these small
reads planning costs more than running them: on each pooled connection a
statement is therefore prepared the first time (``PREPARE``, in the same
round trip) and run with ``EXECUTE`` from then on, its parameters declared
with the types of the values bound to it, at most ``PREPARED_PER_CONNECTION``
per connection. ``NATIVE_ASYNC_DB_PREPARE=0`` sends plain text instead (for
a pooler that does not keep a session's prepared statements).

Under load, the statements of concurrent requests share round trips
(``SharedRoundTrips``): up to ``NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS``
requests' statements go as one batch on one connection, and each request
gets its own results back, so the system calls and the server's wake-up
of a round trip are paid once for several requests. A batch reads one
snapshot, so a read identical to one before it in the batch is sent once
and answers both (``RepeatedReads``: not after a write that may change a
table it reads, nor if it calls a volatile function;
``NATIVE_ASYNC_DB_SHARE_REPEATED_READS``).

Code that wraps a handler can have one more queryset read along with the
handler's own: ``with read_ahead(queryset) as ahead: ...`` makes the next
``evaluate`` call in that context read it first, in the same round trip, and
leaves its rows in ``ahead.rows`` (None if no call came). The conditional
GETs (config/caching) read their version stamps this way. Likewise ``with
run_along(sql, params) as along: ...`` has the next native call run one
small raw statement after its reads, in the same round trip: the API
throttle counts a read's hit this way (config.access.ratelimit).
"""

import asyncio
import contextvars
import datetime
import decimal
import functools
import itertools
import logging
import re
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import JSONField, QuerySet
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.query import ValuesIterable
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.datastructures import BaseTable, Join
from django.db.models.sql.query import Query
from django.db.models.sql.where import WhereNode
from django.db.utils import load_backend
from psycopg import abc, errors, generators
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from config.runtime.native_pool import QueuedAsyncConnectionPool
from config.runtime.postgresql.base import DeadlineAsyncConnection, NoAnswer, breaker_for

logger = logging.getLogger(__name__)

SQL_CACHE_SIZE = 256
TUPLES_OK = ExecStatus.TUPLES_OK
FATAL_ERROR = ExecStatus.FATAL_ERROR

_pools: dict[str, AsyncConnectionPool] = {}
_bound_loop: asyncio.AbstractEventLoop | None = None

# Whoever reports on the native reads registers here (config.observability
# does, from config/asgi.py): each round trip as (seconds, statements), each
# pool as (alias, pool) when it opens.
query_observers: list[Callable[[float, int], None]] = []
pool_observers: list[Callable[[str, AsyncConnectionPool], None]] = []


def bind_to_running_loop() -> None:
    """Use native async reads in the running event loop (the server's)."""
    global _bound_loop
    _bound_loop = asyncio.get_running_loop()


@functools.cache
def _vendor(using: str) -> str:
    """The vendor of a database alias, read off its backend class: under ASGI
    ``connections[using]`` would build a connection object in every request's
    context just to answer this."""
    backend = load_backend(connections.settings[using]["ENGINE"])
    return str(backend.DatabaseWrapper.vendor)


def native_enabled(using: str = "default") -> bool:
    """Whether reads on ``using`` run natively here (PostgreSQL, the setting
    on, and the server's event loop)."""
    if not settings.NATIVE_ASYNC_DB or _vendor(using) != "postgresql":
        return False
    try:
        return asyncio.get_running_loop() is _bound_loop
    except RuntimeError:
        return False


async def get_pool(using: str = "default") -> AsyncConnectionPool:
    """The process's async pool for ``using``, opened on first use in the
    bound loop."""
    pool = _pools.get(using)
    if pool is not None:
        return pool
    wrapper = connections[using]
    kwargs = wrapper.get_connection_params()
    # Django's cursor binds parameters client-side; the async equivalent
    # binds the SQL Django compiled the same way.
    kwargs["cursor_factory"] = psycopg.AsyncClientCursor
    kwargs["autocommit"] = True
    pool_options = wrapper.settings_dict["OPTIONS"].get("pool") or {}
    pool = QueuedAsyncConnectionPool(
        kwargs=kwargs,
        # The server ends a statement at DB_QUERY_TIMEOUT (statement_timeout,
        # in the connection's options); a server that answers nothing at all
        # is given up on a second later, as by Django's connections.
        connection_class=DeadlineAsyncConnection,
        min_size=settings.NATIVE_ASYNC_DB_POOL_MIN_SIZE,
        max_size=settings.NATIVE_ASYNC_DB_POOL_MAX_SIZE,
        timeout=pool_options.get("timeout", 5.0),
        # psycopg's default backs off for up to 300 s after losing the
        # database; follow Django's pool so both recover together.
        reconnect_timeout=pool_options.get("reconnect_timeout", 300.0),
        # No check per checkout (a round trip per query); a connection broken
        # by a database restart fails its query, is discarded by the pool,
        # and the read is retried once on a fresh one.
        open=False,
        name=f"native-async-{using}",
    )
    _pools[using] = pool  # before the first await: one pool per alias and process
    for observer in pool_observers:
        observer(using, pool)
    await pool.open(wait=False)
    return pool


async def close_pool() -> None:
    """Close the pools and stop using native reads (ASGI shutdown, tests)."""
    global _bound_loop
    pools = list(_pools.values())
    _pools.clear()
    _round_trips.clear()
    _bound_loop = None
    for pool in pools:
        await pool.close()


def _query_logging_connection(using: str) -> BaseDatabaseWrapper | None:
    """The connection whose query log Django would add this query to, or
    None. With debug off only a connection that already exists in this
    context can be logging (``CaptureQueriesContext``): look, without building
    one per request."""
    if settings.DEBUG:
        return connections[using]
    # What ``connections.all(initialized_only=True)`` looks up, for one alias.
    made = connections._connections  # type: ignore[attr-defined]
    wrapper: BaseDatabaseWrapper | None = getattr(made, using, None)
    return wrapper if wrapper is not None and wrapper.queries_logged else None


async def _execute(
    pool: AsyncConnectionPool, statements: list[tuple[str, tuple[Any, ...]]]
) -> list[list[tuple[Any, ...]]]:
    """Rows of each statement, retried once on a connection that turns out
    to be broken (e.g. after a database restart)."""
    for attempt in (1, 2):
        try:
            # Not ``pool.connection()``: its ``async with conn`` commits an
            # autocommit connection, a no-op that costs a lock and a wait.
            # ``putconn`` rolls back, or replaces, a connection left unfit.
            conn = await pool.getconn()
            try:
                return await _execute_on(conn, statements)
            finally:
                await pool.putconn(conn)
        except (PoolTimeout, NoAnswer):
            raise  # no connection to be had, or no answer: retrying would double the wait
        except psycopg.OperationalError:
            if attempt == 2:
                raise
            logger.warning("native async read: connection lost, retrying once")
    raise AssertionError("unreachable")


Statements = list[tuple[str, tuple[Any, ...]]]
# A request's statements, the future of their results, and when it came.
_Waiting = tuple[Statements, "asyncio.Future[list[list[tuple[Any, ...]]]]", float]


class SharedRoundTrips:
    """The statements of concurrent requests, several requests to a round
    trip (``NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS``).

    A request's statements wait in ``pending``. Up to ``pool.max_size``
    runners, tasks of their own (one per connection they can hold), each
    take what is pending, up to ``limit`` requests in arrival order, run it
    as one batch on one connection (``_execute``) and hand each request its
    own results. An idle worker's request is taken at once, alone; under
    load each round trip, with its system calls and the server's wake-up,
    serves several requests instead of one.

    One batch is one implicit transaction, so requests that share a round
    trip read one snapshot, as if they had arrived together. If a statement
    fails, the batch's requests are run again one by one, so each gets its
    own rows or its own error, and the writes of the others (rate-limit
    counters run along) are not lost; a lost connection or a database
    that does not answer fails the whole batch, as it would each request.
    A request still waiting after the pool's ``timeout`` is refused with
    psycopg's ``PoolTimeout``; one whose caller went away is dropped."""

    def __init__(self, pool: AsyncConnectionPool, limit: int):
        self.pool = pool
        self.limit = limit
        self.repeats: RepeatedReads | None = None  # read off the database once
        self.reading_repeats = asyncio.Lock()
        self.pending: deque[_Waiting] = deque()
        self.running = 0
        self.starting = 0  # runners made that have not looked at pending yet
        self.runners: set[asyncio.Task[None]] = set()  # referenced while they run

    async def run(self, statements: Statements) -> list[list[tuple[Any, ...]]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[list[tuple[Any, ...]]]] = loop.create_future()
        self.pending.append((statements, future, loop.time()))
        # A runner about to start takes this request too; otherwise start one
        # if a connection may be free. Counted here and uncounted as it
        # returns, in the same step as its last look at pending: no request
        # is left without a runner.
        if not self.starting and self.running < self.pool.max_size:
            self.running += 1
            self.starting += 1
            # A context of its own: a runner outlives the request that started it.
            runner = loop.create_task(self._serve(), context=contextvars.Context())
            self.runners.add(runner)
            runner.add_done_callback(self.runners.discard)
        return await future

    def _take(self, now: float) -> list[_Waiting]:
        taken: list[_Waiting] = []
        timeout = self.pool.timeout
        while self.pending and len(taken) < self.limit:
            entry = self.pending.popleft()
            future, since = entry[1], entry[2]
            if future.done():
                continue  # the caller went away
            if now - since > timeout:
                # psycopg's own message for a request that waited too long.
                future.set_exception(
                    PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec")
                )
                continue
            taken.append(entry)
        return taken

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.starting -= 1
        try:
            while self.pending:
                taken = self._take(loop.time())
                try:
                    await self._run_batch(taken)
                except BaseException:
                    for _, future, _ in taken:
                        future.cancel()
                    raise
        finally:
            self.running -= 1

    async def _run_batch(self, taken: list[_Waiting]) -> None:
        if not taken:
            return
        statements = [statement for entry in taken for statement in entry[0]]
        try:
            repeats = await self._repeated_reads() if len(taken) > 1 else None
            if repeats is None:
                results = await _execute(self.pool, statements)
            else:
                sent, answers = repeats.plan(statements)
                sent_results = await _execute(self.pool, sent)
                results = [sent_results[answer] for answer in answers]
        except psycopg.Error as exc:
            if len(taken) == 1 or isinstance(exc, psycopg.OperationalError):
                for _, future, _ in taken:
                    if not future.done():
                        future.set_exception(exc)
                return
            for entry in taken:  # one statement failed: each its own rows or error
                await self._run_batch([entry])
            return
        start = 0
        for own, future, _ in taken:
            if not future.done():
                future.set_result(results[start : start + len(own)])
            start += len(own)

    async def _repeated_reads(self) -> "RepeatedReads | None":
        """What tells repeated reads apart (``RepeatedReads``), or None with
        ``NATIVE_ASYNC_DB_SHARE_REPEATED_READS`` off. What it needs of the
        database's catalog is read once, on the first batch of several
        requests."""
        if not settings.NATIVE_ASYNC_DB_SHARE_REPEATED_READS:
            return None
        if self.repeats is None:
            async with self.reading_repeats:
                if self.repeats is None:
                    volatile, tables = await _execute(self.pool, REPEATS_CATALOG)
                    self.repeats = RepeatedReads(
                        [name for (name,) in volatile], [name for (name,) in tables]
                    )
        return self.repeats


# The functions whose result may differ between two calls with the same
# arguments in one transaction (random(), nextval(), clock_timestamp()…),
# and the tables a write changes alone: plain tables (whatever schema holds
# the name) with no trigger or rule of their own and no foreign key
# pointing at them that cascades, sets null or sets a default.
REPEATS_CATALOG: Statements = [
    ("SELECT DISTINCT proname FROM pg_catalog.pg_proc WHERE provolatile = 'v'", ()),
    (
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') GROUP BY c.relname "
        "HAVING bool_and(c.relkind = 'r' "
        "AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t "
        "WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
        "AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid) "
        "AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint f "
        "WHERE f.confrelid = c.oid AND f.contype = 'f' "
        "AND (f.confdeltype IN ('c', 'n', 'd') OR f.confupdtype IN ('c', 'n', 'd'))))",
        (),
    ),
]
# The table a plain INSERT, UPDATE or DELETE writes (its name, after any schema).
_IDENTIFIER = r'(?:"(?:[^"]|"")+"|\w+)'
_WRITTEN_TABLE = re.compile(
    rf"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:ONLY\s+)?(?:{_IDENTIFIER}\s*\.\s*)*({_IDENTIFIER})",
    re.IGNORECASE,
)


class RepeatedReads:
    """Reads of a shared round trip that an identical read before them answers.

    The statements of a shared round trip run in one transaction, so they
    read one snapshot: a read identical to an earlier one (same SQL, same
    parameters) returns the same rows, unless a statement between them
    wrote to a table it reads, or it calls a volatile function. Such a read
    is sent once and its rows go to every request that asked for it; under
    load, most requests of a page ask for what the others ask for (its
    count above all).

    A read is a ``SELECT`` that calls none of the database's volatile
    functions. A plain ``INSERT``, ``UPDATE`` or ``DELETE`` of a table that
    a write changes alone (``self_contained``) ends the sharing of the
    reads that name that table; any other statement (a write to a view, to
    a table with triggers, one calling a volatile function, a volatile
    ``SELECT``…) ends all sharing before it. Both lists are read off the
    catalog once per worker (``REPEATS_CATALOG``): a trigger or a function
    created later is seen after a restart."""

    CACHE_SIZE = 1024
    READ = "\0read"  # the kind of a read: no table is named so

    def __init__(self, volatile_functions: Sequence[str], self_contained: Sequence[str]):
        self.self_contained = frozenset(self_contained)
        names = sorted(set(volatile_functions), key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in names) or r"(?!x)x"
        self.volatile_call = re.compile(rf'(?<![\w$"])"?(?:{alternatives})"?\s*\(', re.IGNORECASE)
        # Worked out once per statement (and table) while it stays in use.
        self.kind = functools.lru_cache(maxsize=self.CACHE_SIZE)(self._kind)
        self.names = functools.lru_cache(maxsize=self.CACHE_SIZE)(self._names)

    def _kind(self, sql: str) -> str | None:
        """``READ``, the table a write changes alone, or None (anything else)."""
        if self.volatile_call.search(sql):
            return None
        if sql.lstrip()[:6].upper() == "SELECT":
            return self.READ
        if written := _WRITTEN_TABLE.match(sql):
            # The name as the catalog spells it: unquoted names fold to lower case.
            name = written.group(1)
            table = name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()
            if table in self.self_contained:
                return table
        return None

    @staticmethod
    def _names(sql: str, table: str) -> bool:
        """Whether ``sql`` may read ``table``: its name appears in it, in any case."""
        return table.lower() in sql.lower()

    def plan(self, statements: Statements) -> tuple[Statements, list[int]]:
        """The statements to send, and for each of ``statements`` the index
        of the sent statement whose rows answer it."""
        sent: Statements = []
        answers: list[int] = []
        earlier: dict[tuple[str, tuple[Any, ...]], int] = {}
        for statement in statements:
            kind = self.kind(statement[0])
            if kind == self.READ:
                try:
                    answer = earlier.get(statement)
                except TypeError:  # a parameter that cannot be compared (a dict…)
                    answer = None
                else:
                    if answer is None:
                        earlier[statement] = len(sent)
                if answer is not None:
                    answers.append(answer)
                    continue
            elif kind is None:
                earlier.clear()
            elif earlier:
                for key in [key for key in earlier if self.names(key[0], kind)]:
                    del earlier[key]
            answers.append(len(sent))
            sent.append(statement)
        return sent, answers


def _shared_round_trips(using: str, pool: AsyncConnectionPool) -> SharedRoundTrips:
    shared = _round_trips.get(using)
    if shared is None or shared.pool is not pool:
        shared = _round_trips[using] = SharedRoundTrips(
            pool, settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS
        )
    shared.limit = settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS
    return shared


_round_trips: dict[str, SharedRoundTrips] = {}


def bind(transformer: abc.Transformer, sql: str, params: tuple[Any, ...]) -> bytes:
    """``sql`` with ``params`` bound as literals: what psycopg's
    ``PostgresClientQuery`` (``convert`` and ``dump``) makes of SQL whose only
    placeholders are Django's ``%s`` (and ``%%`` for ``%``), without parsing
    the SQL for other kinds of placeholder on every call."""
    literals = tuple(b"NULL" if p is None else transformer.as_literal(p) for p in params)
    return sql.encode(transformer.encoding) % literals


async def _results(
    conn: psycopg.AsyncConnection[Any], sql: str, params: tuple[Any, ...]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement of ``sql``, sent as one query with the
    parameters bound client-side (as Django's cursor binds them), read
    straight off libpq: a cursor's bookkeeping (prepared statements of its
    own, one result set at a time) is of no use for one multi-statement
    query that this connection alone runs (it is the pool's, checked out)."""
    transformer = Transformer(conn)
    pgconn = conn.pgconn
    pgconn.send_query(bind(transformer, sql, params))
    results = await conn.wait(generators.execute(pgconn))
    rows = []
    for result in results:
        if result.status == TUPLES_OK:
            transformer.set_pgresult(result)
            rows.append(transformer.load_rows(0, result.ntuples, tuple))
        elif result.status == FATAL_ERROR:
            raise errors.error_from_result(result, encoding=conn.info.encoding)
        else:  # a statement that returns no rows (PREPARE, DELETE…)
            rows.append([])
    return rows


async def _execute_on(
    conn: psycopg.AsyncConnection[Any], statements: list[tuple[str, tuple[Any, ...]]]
) -> list[list[tuple[Any, ...]]]:
    """Run the statements as one multi-statement query (``_results``): one
    round trip for all.

    With ``NATIVE_ASYNC_DB_PREPARE`` on, each statement runs as ``EXECUTE``
    of a statement this connection prepared (in the same round trip, the
    first time), so PostgreSQL plans it once per connection rather than on
    every call (see ``_Preparer``). A batch that fails while preparing is
    run again unprepared, and what it prepared is never prepared again."""
    plain_sql = "; ".join(statement for statement, _ in statements)
    params = tuple(param for _, statement_params in statements for param in statement_params)
    if not settings.NATIVE_ASYNC_DB_PREPARE:
        return await _results(conn, plain_sql, params)
    preparer = _preparer_of(conn)
    batch = preparer.batch(statements)
    if batch is None:
        return await _results(conn, plain_sql, params)
    sql, positions, preparing = batch
    try:
        results = await _results(conn, sql, params)
    except psycopg.OperationalError:
        preparer.forget()
        raise
    except psycopg.Error:
        preparer.forget()
        # As plain text: if this fails too, the statements were at fault.
        results = await _results(conn, plain_sql, params)
        _unpreparable.update(preparing)
        return results
    preparer.succeeded(preparing)
    return [results[position] for position in positions]


async def _run(
    using: str, statements: list[tuple[str, tuple[Any, ...]]]
) -> list[list[tuple[Any, ...]]]:
    """Run (sql, params) statements on one pooled connection, in one round
    trip, and return each one's rows (``_execute_on``)."""
    pool = _pools.get(using) or await get_pool(using)
    started = time.monotonic()
    # While the database is down, fail at once like Django's connections do
    # (config.runtime.postgresql), rather than each request waiting out the
    # pool's timeout in turn.
    breaker = breaker_for(using)
    cooldown = settings.DB_FAIL_FAST_SECONDS
    breaker.before_attempt(cooldown)
    try:
        if settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS > 1:
            results = await _shared_round_trips(using, pool).run(statements)
        else:
            results = await _execute(pool, statements)
    except psycopg.OperationalError:  # PoolTimeout included
        breaker.failed(cooldown)
        raise
    except BaseException:  # the client went away, a bad statement
        breaker.abandoned()
        raise
    breaker.succeeded()
    elapsed = time.monotonic() - started
    for observer in query_observers:
        observer(elapsed, len(statements))
    if (wrapper := _query_logging_connection(using)) is not None:
        wrapper.queries_log.extend(
            {"sql": f"{statement} -- params {statement_params!r}", "time": f"{elapsed:.3f}"}
            for statement, statement_params in statements
        )
    return results


async def execute(
    sql: str, params: Sequence[Any] = (), *, using: str = "default"
) -> list[tuple[Any, ...]]:
    """Rows of one raw SQL statement (autocommit), natively on PostgreSQL.
    Callers check ``native_enabled()`` first; for small writes that must not
    cost a thread hop (the rate-limit counters)."""
    (rows,) = await _run(using, [(sql, tuple(params))])
    return rows


# Prepared statements ----------------------------------------------------------

# PostgreSQL plans every statement it is sent as text; for the API's small
# reads planning costs more than running them. A statement prepared on a
# connection is planned once there (PostgreSQL's plan cache then decides
# between custom and generic plans, as for any prepared statement). Its
# parameters are declared with the types of the values bound to it, so a
# value means what it meant as a literal; a statement with a value of any
# other type is sent as text, as before.
_PARAMETER_TYPES: dict[type, str] = {
    int: "int8",
    str: "text",
    bool: "bool",
    float: "float8",
    decimal.Decimal: "numeric",
    datetime.date: "date",
    datetime.timedelta: "interval",
    uuid.UUID: "uuid",
}
PREPARED_PER_CONNECTION = 128
_PLACEHOLDER = re.compile(r"%[s%]")
# (sql, parameter types) → statement name; names are never reused, so a
# connection's names stay valid when this is emptied.
_statement_names: dict[tuple[str, str], str] = {}
_unpreparable: set[str] = set()
_next_statement = itertools.count()


def _parameter_type(value: Any) -> str | None:
    if type(value) is datetime.datetime:
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    return _PARAMETER_TYPES.get(type(value))


def _numbered(sql: str) -> str:
    """Django's ``%s`` placeholders as ``$1``, ``$2``…; ``%%`` stays for the
    client-side binding of the batch to turn into ``%``."""
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(lambda m: "%%" if m.group() == "%%" else f"${next(numbers)}", sql)


def _statement_name(sql: str, params: tuple[Any, ...]) -> tuple[str, str] | None:
    """The name of the prepared statement for ``sql`` with these values and
    the types it declares, or None if it is not to be prepared."""
    types = [_parameter_type(param) for param in params]
    if None in types:
        return None
    declared = ", ".join(types)  # type: ignore[arg-type]
    key = (sql, declared)
    name = _statement_names.get(key)
    if name is None:
        if len(_statement_names) >= _MEMO_LIMIT:
            _statement_names.clear()
            _unpreparable.clear()
        name = _statement_names[key] = f"native_db_{next(_next_statement)}"
    return None if name in _unpreparable else (name, declared)


class _Preparer:
    """What one connection has prepared, the most recently used last."""

    def __init__(self) -> None:
        self.prepared: OrderedDict[str, None] = OrderedDict()
        self.known = True
        # Batches whose every statement is prepared here, by their statements
        # and value types: the same SQL again, without naming each statement.
        # A hit does not mark its statements used, so the least recently
        # prepared of those is the first deallocated.
        self.ready: dict[tuple[Any, ...], tuple[str, list[int]]] = {}

    def batch(
        self, statements: list[tuple[str, tuple[Any, ...]]]
    ) -> tuple[str, list[int], list[str]] | None:
        """The batch's SQL with prepared statements, the position of each
        statement's result in it, and the names it prepares; None if no
        statement is to be prepared."""
        key = _batch_key(statements)
        if key is not None and (ready := self.ready.get(key)) is not None:
            return ready[0], ready[1], []
        parts: list[str] = []
        positions: list[int] = []
        preparing: list[str] = []
        as_text = 0
        if not self.known:
            parts.append("DEALLOCATE ALL")
        for sql, params in statements:
            found = _statement_name(sql, params)
            if found is None:
                as_text += 1
                positions.append(len(parts))
                parts.append(sql)
                continue
            name, declared = found
            if name in self.prepared:
                self.prepared.move_to_end(name)
            elif name not in preparing:
                if self.prepared and len(self.prepared) + len(preparing) >= PREPARED_PER_CONNECTION:
                    oldest, _ = self.prepared.popitem(last=False)
                    parts.append(f"DEALLOCATE {oldest}")
                    self.ready.clear()
                types = f" ({declared})" if declared else ""
                parts.append(f"PREPARE {name}{types} AS {_numbered(sql)}")
                preparing.append(name)
            positions.append(len(parts))
            arguments = ", ".join(["%s"] * len(params))
            parts.append(f"EXECUTE {name}({arguments})" if params else f"EXECUTE {name}")
        if as_text == len(statements):
            return None  # nothing prepared here: the batch goes as it is
        sql = "; ".join(parts)
        if key is not None and not as_text and len(parts) == len(statements):
            # Every statement was prepared before, and nothing is deallocated.
            if len(self.ready) >= PREPARED_PER_CONNECTION:
                self.ready.clear()
            self.ready[key] = (sql, positions)
        return sql, positions, preparing

    def succeeded(self, preparing: list[str]) -> None:
        self.known = True
        for name in preparing:
            self.prepared[name] = None

    def forget(self) -> None:
        """After an error, what the connection holds is not known: the next
        batch starts by deallocating everything."""
        self.prepared.clear()
        self.ready.clear()
        self.known = False


def _batch_key(statements: Statements) -> tuple[Any, ...] | None:
    """What decides a batch's prepared SQL: its statements and the types of
    their values; None where a type alone does not (a datetime is declared
    with or without its time zone)."""
    key = tuple((sql, *map(type, params)) for sql, params in statements)
    return None if any(datetime.datetime in statement for statement in key) else key


def _preparer_of(conn: psycopg.AsyncConnection[Any]) -> _Preparer:
    preparer: _Preparer | None = getattr(conn, "native_db_preparer", None)
    if preparer is None:
        preparer = _Preparer()
        conn.native_db_preparer = preparer  # type: ignore[attr-defined]
    return preparer


# Query shapes ---------------------------------------------------------------

# Filter values of these exact types become slots (bool is left out: it is an
# int whose stand-in could not differ from it in more than one way).
_SLOT_TYPES = (int, str, datetime.date, datetime.datetime, decimal.Decimal, uuid.UUID)
# Attributes of a Query that cache what others already determine.
_DERIVED = frozenset({"_annotation_select_cache", "_extra_select_cache", "base_table"})


def _stand_in(value: Any, index: int) -> Any:
    """A value of the same type as ``value`` that real filters rarely use (a
    value equal to its stand-in is simply not given a slot)."""
    if isinstance(value, bool):
        raise TypeError("bool is not a slot type")
    if isinstance(value, int):
        # Within the range of every integer column, positive small ones
        # included: Django compiles a comparison with a value out of the
        # column's range to no condition at all, which proves no slot.
        return 32_611 - index
    if isinstance(value, str):
        return f"\x00native-db-slot-{index}\x00"
    if isinstance(value, datetime.datetime):
        return datetime.datetime(1111, 1, 1, tzinfo=value.tzinfo) + datetime.timedelta(
            seconds=index
        )
    if isinstance(value, datetime.date):
        return datetime.date(1111, 1, 1) + datetime.timedelta(days=index)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal("-8675309.000017") - index
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=0x8675309 + index)
    raise TypeError(f"no stand-in for {type(value).__name__}")


def _is_slot_sequence(value: Any) -> bool:
    """A list or tuple of slot values (``__in=[...]``, ``__range=(a, b)``)."""
    return type(value) in (list, tuple) and all(type(item) in _SLOT_TYPES for item in value)


_PLAIN = frozenset({str, int, bool, float, type(None), frozenset})

# Parts that Django replaces rather than changes once they are in a query
# (``promote()``, ``relabeled_clone()`` make new ones): tuples of such parts,
# columns, joins and tables. A query is a clone of a long-lived one with a
# filter or two added, so most of these are the very objects the previous
# request's query held. Each is turned into a token once: the content is
# interned (equal content, equal token; a token stands for one content only),
# and the object is remembered by identity, holding a reference so that its
# id cannot be reused while remembered. Both tables are emptied when full;
# tokens keep counting, so an old token never comes to mean new content.
_MEMO_LIMIT = 65_536
_memo_by_identity: dict[int, tuple[Any, int]] = {}
_tokens: dict[Hashable, int] = {}
_next_token = itertools.count()


def _token(value: Any, content: Hashable) -> int:
    token = _tokens.get(content)
    if token is None:
        if len(_tokens) >= _MEMO_LIMIT:
            _tokens.clear()
            _memo_by_identity.clear()
        token = _tokens[content] = next(_next_token)
    if len(_memo_by_identity) >= _MEMO_LIMIT:
        _memo_by_identity.clear()
    _memo_by_identity[id(value)] = (value, token)
    return token


def _frozen_content(value: Any) -> Hashable | None:
    """What a column, join, table or tuple of frozen parts is made of, or
    None for anything else."""
    kind = type(value)
    if kind is Col:
        # What Col's own identity holds, without binding its signature.
        return (Col, value.alias, value.target, value.output_field)
    if kind is Join:
        # Django's Join identity leaves out the alias and the join type.
        return (
            Join,
            value.table_name,
            value.parent_alias,
            value.table_alias,
            value.join_type,
            value.join_field,
            value.nullable,
            value.filtered_relation,
        )
    if kind is BaseTable:
        return (BaseTable, value.table_name, value.table_alias)
    if kind is tuple:
        items: list[Any] = []
        for item in value:
            if type(item) is str:
                items.append(item)
            elif type(item) in _PLAIN:
                items.append((type(item), item))  # True == 1 == 1.0, but not as SQL
            else:
                token = _frozen_token(item)
                if token is None:
                    return None
                items.append(token)
        return (tuple, *items)
    return None


# The kinds _frozen_content knows: any other value has no token.
_FROZEN_KINDS = frozenset({Col, Join, BaseTable, tuple})


def _frozen_token(value: Any) -> int | None:
    known = _memo_by_identity.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    content = _frozen_content(value)
    return None if content is None else _token(value, content)


def _hashable(value: Any) -> Hashable:
    """``value`` as something hashable that is equal for equal values, like
    Django's ``make_hashable`` but without sorting dicts: two queries built
    the same way fill their dicts in the same order, and a different order
    only costs a cache miss. Frozen parts become tokens (above); anything
    else is compared as it compares itself (an object without ``__eq__``
    never equals another: a miss)."""
    kind = type(value)
    if kind in _PLAIN:
        return value  # type: ignore[no-any-return]
    # Plain items are taken as they are, without a call each.
    if kind is dict:
        return (
            dict,
            *[
                (key, item if type(item) in _PLAIN else _hashable(item))
                for key, item in value.items()
            ],
        )
    if kind is set:
        return frozenset(value)
    if kind in _FROZEN_KINDS:
        token = _frozen_token(value)
        if token is not None:
            return ("token", token)
    if kind is tuple or kind is list:
        return (kind, *[item if type(item) in _PLAIN else _hashable(item) for item in value])
    return value  # type: ignore[no-any-return]


class _Shape:
    """A query's shape: its parts, hashed once."""

    __slots__ = ("hash", "parts")

    def __init__(self, parts: tuple[Any, ...]):
        self.parts = parts
        self.hash = hash(parts)  # TypeError for a part that cannot be compared

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shape) and self.hash == other.hash and self.parts == other.parts


def _where_shape(node: WhereNode, values: list[Any]) -> Hashable:
    children: list[Any] = []
    for child in node.children:
        if isinstance(child, WhereNode):
            children.append(_where_shape(child, values))
        elif isinstance(child, Lookup) and type(child.rhs) in _SLOT_TYPES:
            values.append(child.rhs)
            children.append((type(child), _hashable(child.lhs), type(child.rhs)))
        elif isinstance(child, Lookup) and _is_slot_sequence(child.rhs):
            values.extend(child.rhs)
            item_types = tuple(type(item) for item in child.rhs)
            children.append((type(child), _hashable(child.lhs), type(child.rhs), item_types))
        elif isinstance(child, Lookup) and isinstance(child.rhs, Query):
            subquery = _query_shape(child.rhs, values)
            children.append((type(child), _hashable(child.lhs), subquery))
        else:
            children.append(child)  # compared as Django compares lookups
    shape: tuple[Any, ...] = (type(node), node.connector, node.negated, *children)
    return shape


def _query_shape(query: Query, values: list[Any]) -> Hashable:
    parts: list[Any] = [type(query)]
    for name, value in vars(query).items():
        if name in _DERIVED:
            continue
        if name == "where":
            parts.append((name, _where_shape(value, values)))
        elif type(value) in _PLAIN:
            parts.append((name, value))
        else:
            parts.append((name, _hashable(value)))
    return tuple(parts)


def sql_shape(queryset: QuerySet[Any]) -> tuple[_Shape, list[Any]] | None:
    """The shape of a queryset's SQL and the filter values in its slots, in
    the order they were found; None when some part of the query cannot be
    compared (it is then compiled on every call)."""
    values: list[Any] = []
    try:
        shape = _Shape((queryset.db, _query_shape(queryset.query, values)))
    except TypeError:
        return None
    return shape, values


def _where_with(node: WhereNode, values: Iterator[Any]) -> WhereNode:
    """A copy of ``node`` whose slots hold the next ``values``, in the order
    ``_where_shape`` found them."""
    children: list[Any] = []
    for child in node.children:
        if isinstance(child, WhereNode):
            children.append(_where_with(child, values))
        elif isinstance(child, Lookup) and type(child.rhs) in _SLOT_TYPES:
            children.append(type(child)(child.lhs, next(values)))
        elif isinstance(child, Lookup) and _is_slot_sequence(child.rhs):
            items = type(child.rhs)(next(values) for _ in child.rhs)
            children.append(type(child)(child.lhs, items))
        elif isinstance(child, Lookup) and isinstance(child.rhs, Query):
            subquery: Any = _query_with(child.rhs, values)
            children.append(type(child)(child.lhs, subquery))
        else:
            children.append(child)
    return WhereNode(children, node.connector, node.negated)


def _query_with(query: Query, values: Iterator[Any]) -> Query:
    clone = query.clone()
    clone.where = _where_with(query.where, values)
    return clone


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Each parameter: (True, slot index) or (False, constant value).
    params: tuple[tuple[bool, Any], ...]
    compiler: SQLCompiler
    converters: dict[int, Any]
    names: tuple[str, ...]

    def bind(self, values: list[Any]) -> tuple[Any, ...]:
        return tuple(_filled(self.params, values))


def _compile(query: Query, using: str) -> tuple[str, tuple[Any, ...], SQLCompiler]:
    compiler = query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    return sql, tuple(params), compiler


def _slots(
    query: Query, using: str, sql: str, params: tuple[Any, ...], values: list[Any]
) -> tuple[tuple[bool, Any], ...] | None:
    """Where each of ``values`` lands in ``params``, proved by compiling the
    query again with stand-ins; None if that cannot be proved."""
    try:
        stand_ins = [_stand_in(value, index) for index, value in enumerate(values)]
        if any(stand_in == value for stand_in, value in zip(stand_ins, values, strict=True)):
            return None
        other_sql, other_params, _ = _compile(_query_with(query, iter(stand_ins)), using)
    except Exception:  # noqa: BLE001  (any failure only means: do not share)
        return None
    if other_sql != sql or len(other_params) != len(params):
        return None
    return _landing_plan(params, other_params, values, stand_ins)


def _filled(plan: Sequence[tuple[bool, Any]], values: list[Any]) -> list[Any]:
    """A ``_landing_plan`` filled in with ``values``."""
    return [values[value] if is_slot else value for is_slot, value in plan]


def _landing_plan(
    observed: Sequence[Any], with_stand_ins: Sequence[Any], values: list[Any], stand_ins: list[Any]
) -> tuple[tuple[bool, Any], ...] | None:
    """Where each of ``values`` lands among ``observed`` (what a query built
    with them holds: its SQL parameters, or its conditions' values), proved
    by ``with_stand_ins`` (the same, of the query built with ``stand_ins``):
    for each position, (True, index of the value) or (False, a constant).
    None if a position changed in a way the stand-ins do not explain, a value
    was transformed on its way in, or a value landed nowhere."""
    plan: list[tuple[bool, Any]] = []
    found = set()
    for value, other in zip(observed, with_stand_ins, strict=True):
        index = next(
            (
                i
                for i, stand_in in enumerate(stand_ins)
                if type(other) is type(stand_in) and other == stand_in
            ),
            None,
        )
        if index is None:
            if value != other or type(value) is not type(other):
                return None
            plan.append((False, value))
        elif type(value) is type(values[index]) and value == values[index]:
            plan.append((True, index))
            found.add(index)
        else:
            return None
    return tuple(plan) if len(found) == len(values) else None


class _SqlCache:
    """A bounded LRU of compiled queries by shape (see the module docstring)."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[Hashable, _Compiled] = OrderedDict()

    def lookup(self, key: Hashable) -> _Compiled | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def store(self, key: Hashable, entry: _Compiled) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_sql_cache = _SqlCache(SQL_CACHE_SIZE)


def _value_names(query: Query) -> tuple[str, ...]:
    """The keys of a ``values()`` row, as Django's ``ValuesIterable`` names them."""
    if query.selected:
        return tuple(query.selected)
    return (*query.extra_select, *query.values_select, *query.annotation_select)


def _compiled(queryset: QuerySet[Any]) -> tuple[_Compiled, tuple[Any, ...]] | None:
    """The compiled SQL of a queryset and its parameters; None when it can
    match no row (Django raises EmptyResultSet rather than compile it).

    A queryset evaluated again as the same object (a long-lived one, such as
    config.caching's stamps) keeps what it compiled to, for as long as it
    holds the same ``Query``: querysets are never changed in place, each
    method returns a clone."""
    if queryset._deferred_filter is None:  # type: ignore[attr-defined]
        known = queryset.__dict__.get("_native_compiled")
        if known is not None and known[0] is queryset.query:
            return known[1]  # type: ignore[no-any-return]
    query = queryset.query
    compiled = _compile_queryset(queryset)
    queryset.__dict__["_native_compiled"] = (query, compiled)
    return compiled


def _compile_queryset(queryset: QuerySet[Any]) -> tuple[_Compiled, tuple[Any, ...]] | None:
    if queryset.query.is_empty():
        return None
    using = queryset.db
    known = queryset.__dict__.get("_native_shape")  # set by ``filtered``
    found = known[1] if known is not None and known[0] is queryset.query else sql_shape(queryset)
    if found is not None:
        shape, values = found
        entry = _sql_cache.lookup(("slots", shape))
        if entry is not None:
            return entry, entry.bind(values)
        exact_key = ("exact", shape, tuple((type(value), value) for value in values))
        entry = _sql_cache.lookup(exact_key)
        if entry is not None:
            return entry, entry.bind(values)
    query = queryset.query
    try:
        sql, params, compiler = _compile(query, using)
    except EmptyResultSet:
        return None
    select = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
    converters = {
        index: ([_faster_converter(converter) for converter in found], expression)
        for index, (found, expression) in compiler.get_converters(select).items()
    }
    names = _value_names(query)
    if found is None:
        plan = tuple((False, param) for param in params)
        return _Compiled(sql, plan, compiler, converters, names), params
    plan_with_slots = _slots(query, using, sql, params, values)
    if plan_with_slots is not None:
        entry = _Compiled(sql, plan_with_slots, compiler, converters, names)
        _sql_cache.store(("slots", shape), entry)
    else:
        entry = _Compiled(sql, tuple((False, p) for p in params), compiler, converters, names)
        _sql_cache.store(exact_key, entry)
    return entry, params


_LONG_DIGITS = re.compile(r"[0-9]{19}")


def _faster_converter(converter: Callable[..., Any]) -> Callable[..., Any]:
    """``converter``, or for the ``from_db_value`` of a ``JSONField`` with the
    standard decoder, the same with the text parsed by orjson: the result
    ``json.loads`` would give, for valid JSON. Text that orjson refuses
    (``NaN``, lone surrogates…) or may read otherwise (an integer beyond 64
    bits becomes a float: any run of 19 digits), and any value that is not
    text, go to Django's converter."""
    field = getattr(converter, "__self__", None)
    if (
        getattr(converter, "__func__", None) is not JSONField.from_db_value
        or getattr(field, "decoder", None) is not None
    ):
        return converter

    def from_db_value(value: Any, expression: Any, connection: Any) -> Any:
        if type(value) is str and _LONG_DIGITS.search(value) is None:
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return converter(value, expression, connection)

    return from_db_value


def _count_of(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The rows to count: ordering dropped, primary keys only."""
    return queryset.order_by().values("pk")


def _compiled_count(queryset: QuerySet[Any]) -> tuple[_Compiled, tuple[Any, ...]] | None:
    """``_compiled(_count_of(queryset))``, cached by the shape of ``queryset``
    itself, so that a count seen before is not rebuilt as another queryset.
    Shared only when the rows to count hold the very filter values of
    ``queryset``, in the same order, in slots."""
    if queryset.query.is_empty():
        return None
    found = sql_shape(queryset)
    if found is not None:
        entry = _sql_cache.lookup(("count", found[0]))
        if entry is not None:
            return entry, entry.bind(found[1])
    counted = _count_of(queryset)
    compiled = _compiled(counted)
    if found is None or compiled is None:
        return compiled
    shape, values = found
    counted_found = sql_shape(counted)
    entry = compiled[0]
    if (
        counted_found is not None
        and [(type(v), v) for v in counted_found[1]] == [(type(v), v) for v in values]
        and (not values or any(is_slot for is_slot, _ in entry.params))
    ):
        _sql_cache.store(("count", shape), entry)
    return compiled


# Querysets filtered from a long-lived one -----------------------------------


@dataclass(frozen=True)
class _FilterTemplate:
    """``base.filter(**lookups)`` as first built, and where each lookup's
    value lands among the slots of its shape."""

    queryset: QuerySet[Any]
    shape: _Shape
    # Each slot: (True, index of the lookup) or (False, constant value).
    plan: tuple[tuple[bool, Any], ...]

    def slot_values(self, values: list[Any]) -> list[Any]:
        return _filled(self.plan, values)


def _filter_template(
    base: QuerySet[Any], lookups: dict[str, Any], first: QuerySet[Any]
) -> _FilterTemplate | None:
    """The template of ``first`` (``base.filter(**lookups)``), proved by
    filtering ``base`` again with stand-in values; None if not proved."""
    found = sql_shape(first)
    values = list(lookups.values())
    if found is None or not all(type(value) in _SLOT_TYPES for value in values):
        return None
    shape, slot_values = found
    try:
        stand_ins = [_stand_in(value, index) for index, value in enumerate(values)]
        if any(stand_in == value for stand_in, value in zip(stand_ins, values, strict=True)):
            return None
        other = sql_shape(base.filter(**dict(zip(lookups, stand_ins, strict=True))))
    except Exception:  # noqa: BLE001  (any failure only means: no template)
        return None
    if other is None or other[0] != shape or len(other[1]) != len(slot_values):
        return None
    plan = _landing_plan(slot_values, other[1], values, stand_ins)
    return None if plan is None else _FilterTemplate(first, shape, plan)


def filtered(base: QuerySet[Any], **lookups: Any) -> QuerySet[Any]:
    """``base.filter(**lookups)``, for a long-lived ``base`` (built once,
    never evaluated itself) filtered the same way on every request, such as
    one row by its id.

    Building a filter with the ORM costs more than running the query it
    makes. The first call for each set of lookup names and value types does
    build it, then again with stand-in values, which proves where each value
    lands in the query's conditions (as for the SQL cache, see the module
    docstring); later calls copy that queryset with only the values in its
    conditions replaced, and with its shape known. Lookups whose values the
    ORM transforms, or whose values change more than the conditions, are
    built by ``filter`` every time. With ``NATIVE_ASYNC_DB`` off this is
    ``base.filter(**lookups)``."""
    if not settings.NATIVE_ASYNC_DB:
        return base.filter(**lookups)
    templates: dict[Hashable, _FilterTemplate | None] = base.__dict__.setdefault(
        "_native_filters", {}
    )
    key = (base.query, *[(name, type(value)) for name, value in lookups.items()])
    if key not in templates:
        first = base.filter(**lookups)
        if len(templates) < _MEMO_LIMIT:
            templates[key] = _filter_template(base, lookups, first)
        return first
    template = templates[key]
    if template is None:
        return base.filter(**lookups)
    values = template.slot_values(list(lookups.values()))
    queryset: QuerySet[Any] = template.queryset._chain()  # type: ignore[attr-defined]
    query = queryset.query
    query.where = _where_with(template.queryset.query.where, iter(values))
    queryset.__dict__["_native_shape"] = (query, (template.shape, values))
    return queryset


def _require_values(queryset: QuerySet[Any]) -> None:
    if queryset._iterable_class is not ValuesIterable:
        raise TypeError("evaluate() takes values() querysets (plain rows, no model instances)")


class ReadAhead:
    """A ``values()`` queryset to be read by the next ``evaluate`` call."""

    def __init__(self, queryset: QuerySet[Any]):
        _require_values(queryset)
        self.queryset = queryset
        self.taken = False
        self.rows: list[dict[str, Any]] | None = None


_read_ahead: ContextVar[ReadAhead | None] = ContextVar("native_db_read_ahead", default=None)


@contextmanager
def read_ahead(queryset: QuerySet[Any]) -> Iterator[ReadAhead]:
    """Within the block, the first ``evaluate`` call of this context (this
    task, or one it awaits) reads ``queryset`` before its own querysets, in
    the same round trip on PostgreSQL, and leaves the rows in ``.rows``."""
    ahead = ReadAhead(queryset)
    token = _read_ahead.set(ahead)
    try:
        yield ahead
    finally:
        _read_ahead.reset(token)


class RunAlong:
    """A raw statement to be run by the next native ``evaluate`` call."""

    def __init__(self, sql: str, params: Sequence[Any]):
        self.sql = sql
        self.params = tuple(params)
        self.taken = False  # shared by the copies of the context tasks get
        self.rows: list[tuple[Any, ...]] | None = None


_run_along: ContextVar[tuple[RunAlong, ...]] = ContextVar("native_db_run_along", default=())


@contextmanager
def run_along(sql: str, params: Sequence[Any] = ()) -> Iterator[RunAlong]:
    """Within the block, the first ``evaluate`` call of this context that
    runs natively (PostgreSQL) runs this statement too, after its own reads,
    in the same round trip, and leaves its rows in ``.rows``. They stay None
    if no such call came or its round trip failed: the statement did not
    run, and the caller runs it itself (``execute``).

    The statements of one round trip are one transaction, so a write run
    along holds its row locks until the reads before it are done: only
    small writes belong here (the rate-limit counters)."""
    along = RunAlong(sql, params)
    token = _run_along.set((*_run_along.get(), along))
    try:
        yield along
    finally:
        _run_along.reset(token)


def _take_run_along() -> list[RunAlong]:
    pending = [along for along in _run_along.get() if not along.taken]
    for along in pending:
        along.taken = True
    return pending


async def evaluate(
    *querysets: QuerySet[Any], count: QuerySet[Any] | None = None
) -> tuple[list[list[dict[str, Any]]], int | None]:
    """The rows of each ``values()`` queryset, as lists of dicts in order, and
    the number of rows of ``count`` (None without it).

    On PostgreSQL all of them go to the database in one round trip from the
    event loop; elsewhere they run through the async ORM. The querysets are
    read as they are: nothing is cached but compiled SQL (see the module
    docstring). A pending ``read_ahead`` is read first."""
    ahead = _read_ahead.get()
    if ahead is not None and not ahead.taken:
        ahead.taken = True
        (ahead_rows, *rows), total = await evaluate(ahead.queryset, *querysets, count=count)
        ahead.rows = ahead_rows
        return rows, total
    for queryset in querysets:
        _require_values(queryset)
    using = querysets[0].db if querysets else count.db if count is not None else "default"
    same_database = all(queryset.db == using for queryset in querysets) and (
        count is None or count.db == using
    )
    if not (same_database and native_enabled(using)):
        rows = [[row async for row in queryset.all()] for queryset in querysets]
        total = await count.acount() if count is not None else None
        return rows, total
    reads = [_compiled(queryset) for queryset in querysets]
    counted = _compiled_count(count) if count is not None else None
    statements = [(entry.sql, params) for entry, params in filter(None, reads)]
    if counted is not None:
        entry, params = counted
        statements.append((f"SELECT COUNT(*) FROM ({entry.sql}) AS counted", params))  # noqa: S608
    along = _take_run_along()
    statements.extend((statement.sql, statement.params) for statement in along)
    results = iter(await _run(using, statements) if statements else [])
    rows = []
    for read in reads:
        if read is None:
            rows.append([])
            continue
        entry = read[0]
        raw = next(results)
        converted = (
            entry.compiler.apply_converters(raw, entry.converters) if entry.converters else raw
        )
        rows.append([dict(zip(entry.names, row, strict=True)) for row in converted])
    total = None
    if count is not None:
        total = next(results)[0][0] if counted is not None else 0
    for statement in along:
        statement.rows = next(results)
    return rows, total
