"""Rate limits shared by every worker process: API throttling and failed logins.

Why not django-ninja's built-in throttling (ninja 1.7, ``ninja/throttling.py``
and ``AsyncOperation._run_checks`` in ``ninja/operation.py``): on an async
operation ninja awaits authentication but then calls ``_check_throttles``
synchronously, and ``SimpleRateThrottle.allow_request`` does a synchronous
``cache.get`` then ``cache.set`` of the whole request history. From the event
loop that means: with a shared backend such as ``DatabaseCache`` the call
raises ``SynchronousOnlyOperation`` (or, with a network cache, blocks the
loop for a round trip); with the default ``LocMemCache`` the limit is per
process, so N uvicorn workers allow N times the limit; and get-then-set loses
hits under concurrency, so a burst of parallel requests (the abuse to stop)
gets through. Django's own ``DatabaseCache.incr`` is also get-then-set.

So: fixed-window counters in a table of our own (``config.RateCounter``),
each hit one atomic ``INSERT … ON CONFLICT DO UPDATE SET count = count + 1
RETURNING count`` (SQLite ≥ 3.35 and PostgreSQL, where the table is
UNLOGGED), run for async callers through ``sync_to_async`` so the event loop
never blocks. Fixed windows allow up to twice the limit across a window
boundary; that is the usual trade for one statement per hit.

With ``REDIS_URL`` set the same windows count in Redis instead (``INCR`` and
``EXPIREAT`` in one script, so atomic; redis-py's asyncio client on
the event loop for ``ahit``, its sync client for the login form): no hot row
on the primary database. On the event loop the hits of one counter that
arrive while its command is out are counted by the next command, all at once
(``INCRBY``; ``_Batch``), so a burst from one client costs Redis and the
worker a command per round trip rather than per hit. So do the hits of one
counter on the native PostgreSQL pool, where a read's hit otherwise rides
along with its handler's first read (``ReadHit``). While Redis is
unreachable each call counts in the database as above (config.redis_client
logs the outage once), so the limits keep holding, with a fresh window for
the hits Redis had counted.
"""

import asyncio
import functools
import hashlib
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from config import redis_client
from config.runtime import native_db

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")
_OFF = {"", "off", "none", "0"}

# Purge expired counters on about one new window in this many.
_PURGE_ONE_IN = 50
# Redis keys of the counters (the same windows as the table's rows).
_REDIS_PREFIX = "ratelimit:"


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    @classmethod
    def parse(cls, text: str | None) -> "Rate | None":
        """ "120/min", "5/15min", "10/s", "1000/hour"; "off" (or empty) for no
        limit."""
        if text is None or text.strip().lower() in _OFF:
            return None
        match = _RATE.match(text.lower())
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"Invalid rate {text!r}: use e.g. '120/min', '5/15min' or 'off'.")
        count, multiplier, unit = match.groups()
        return cls(int(count), int(multiplier or 1) * _UNITS[unit])

    def __str__(self):
        return f"{self.limit} per {self.period} seconds"


@functools.lru_cache(maxsize=64)
def _parse(text: str | None) -> Rate | None:
    return Rate.parse(text)


def rate_setting(name: str) -> Rate | None:
    """The rate a setting such as ``API_THROTTLE_ANON`` names (read on every
    call, so tests can override it; parsed once per distinct value)."""
    return _parse(getattr(settings, name))


# Hits are one command: INCRBY (ARGV[2] hits), and on the window's first hit
# the key's expiry. Atomic, as a script; sent by its SHA1 once Redis knows it
# (EVAL teaches it).
_REDIS_COUNT = (
    "local count = redis.call('INCRBY', KEYS[1], ARGV[2]) "
    "if count == tonumber(ARGV[2]) then redis.call('EXPIREAT', KEYS[1], ARGV[1]) end "
    "return count"
)
_REDIS_COUNT_SHA1 = hashlib.sha1(_REDIS_COUNT.encode(), usedforsecurity=False).hexdigest()


def _count_in_redis(counting: "_Counting") -> int:
    client = redis_client.sync_client()
    arguments = (*counting.redis_count, 1)
    try:
        return int(client.evalsha(_REDIS_COUNT_SHA1, *arguments))
    except redis.exceptions.NoScriptError:
        return int(client.eval(_REDIS_COUNT, *arguments))


async def _aincrease_in_redis(key: str, expires_at: int, hits: int) -> int:
    client = redis_client.async_client()
    try:
        return int(await client.evalsha(_REDIS_COUNT_SHA1, 1, key, expires_at, hits))
    except redis.exceptions.NoScriptError:
        return int(await client.eval(_REDIS_COUNT, 1, key, expires_at, hits))


class _Batch:
    """The hits of one counter in this process, counted one statement at a
    time: a hit that arrives while the counter's statement is out waits for
    the next, which counts every waiting hit at once (``increase(n)``
    returns the counter's total after adding ``n``). Each hit's count is its
    place in its batch, as if the hits had been sent one by one, so a burst
    from one client costs a statement per round trip, not per hit.

    The statements go from a task of their own, so a hit whose request is
    cancelled takes no other hit's answer with it (it is still counted)."""

    def __init__(
        self,
        key: tuple[str, str],
        increase: Callable[[int], Awaitable[int]],
        loop: asyncio.AbstractEventLoop,
    ):
        self.key = key
        self.increase = increase
        self.loop = loop
        self.waiting: list[asyncio.Future[int]] = []
        self.sender: asyncio.Task[None] | None = None

    def count(self) -> asyncio.Future[int]:
        hit: asyncio.Future[int] = self.loop.create_future()
        self.waiting.append(hit)
        if self.sender is None or self.sender.done():
            self.sender = self.loop.create_task(self._send())
        return hit

    async def _send(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    total = await self.increase(len(batch))
                except Exception as exc:  # each hit's caller handles it
                    for hit in batch:
                        if not hit.done():
                            hit.set_exception(exc)
                    continue
                first = total - len(batch)
                for place, hit in enumerate(batch, 1):
                    if not hit.done():
                        hit.set_result(first + place)
        finally:
            # Cancelled with the loop: whoever still waits is told, not left hanging.
            for hit in self.waiting:
                if not hit.done():
                    hit.cancel()
            self.waiting = []
            if _batches.get(self.key) is self:
                del _batches[self.key]


# The counters with hits out, by store and key: an entry lasts while its
# statements do.
_batches: dict[tuple[str, str], _Batch] = {}


async def _count_in_batch(store: str, key: str, increase: Callable[[int], Awaitable[int]]) -> int:
    loop = asyncio.get_running_loop()
    batch = _batches.get((store, key))
    if batch is None or batch.loop is not loop:  # none, or a closed loop's (tests)
        batch = _batches[(store, key)] = _Batch((store, key), increase, loop)
    return await batch.count()


async def _acount_in_redis(counting: "_Counting") -> int:
    _, key, expires_at = counting.redis_count
    return await _count_in_batch(
        "redis", key, functools.partial(_aincrease_in_redis, key, expires_at)
    )


@dataclass(frozen=True)
class Hit:
    count: int
    rate: Rate
    retry_after: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.rate.limit


@functools.cache
def _table() -> str:
    # Once per process: under ASGI, ``connection`` builds a connection
    # object in every request's context just to answer this.
    return connection.ops.quote_name("config_ratecounter")


def _window(rate: Rate, now: float) -> tuple[int, int]:
    start = int(now // rate.period) * rate.period
    return start, start + rate.period


def _row_key(scope: str, ident: str, window_start: int) -> str:
    # Identities may be long or hold anything (user names): hash them.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"{scope}:{digest}:{window_start}"


class _Counting:
    """One hit being counted: the upsert that counts it, the occasional purge
    of expired windows, and the verdict; shared by ``hit`` and ``ahit``."""

    def __init__(self, scope: str, ident: str, rate: Rate):
        self.rate = rate
        self.now = time.time()
        start, self.end = _window(rate, self.now)
        self.key = _row_key(scope, ident, start)

    @property
    def upsert(self) -> tuple[str, list[str | int]]:
        return self.upsert_of(1)

    def upsert_of(self, hits: int) -> tuple[str, list[str | int]]:
        """The upsert that counts ``hits`` hits of this counter at once."""
        table = _table()
        return (
            f"INSERT INTO {table} (key, count, expires_at) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (key) DO UPDATE SET count = {table}.count + excluded.count "
            "RETURNING count",
            [self.key, hits, self.end],
        )

    @property
    def purge(self) -> tuple[str, list[int]]:
        return (f"DELETE FROM {_table()} WHERE expires_at < %s", [int(self.now)])  # noqa: S608

    @property
    def redis_count(self) -> tuple[int, str, int]:
        """The arguments of ``_REDIS_COUNT`` for this hit: the key outlives
        its window by a second, then Redis drops it."""
        return (1, _REDIS_PREFIX + self.key, self.end + 1)

    @staticmethod
    def should_purge(count: int) -> bool:
        return count == 1 and random.randrange(_PURGE_ONE_IN) == 0  # noqa: S311

    def result(self, count: int) -> Hit:
        return Hit(count=count, rate=self.rate, retry_after=max(1, math.ceil(self.end - self.now)))


def hit(scope: str, ident: str, rate: Rate) -> Hit:
    """Count one hit of ``ident`` in ``scope``; the returned ``Hit`` says
    whether it is within ``rate``."""
    counting = _Counting(scope, ident, rate)
    if redis_client.enabled():
        try:
            count = _count_in_redis(counting)
        except redis_client.ERRORS as exc:
            redis_client.failed("rate limits", exc)
        else:
            redis_client.succeeded()
            return counting.result(count)
    with connection.cursor() as cursor:
        cursor.execute(*counting.upsert)
        (count,) = cursor.fetchone()
        if counting.should_purge(count):
            cursor.execute(*counting.purge)
    return counting.result(count)


def peek(scope: str, ident: str, rate: Rate) -> Hit:
    """The current count of ``ident`` in ``scope``, without counting a hit."""
    now = time.time()
    start, end = _window(rate, now)
    key = _row_key(scope, ident, start)
    retry_after = max(1, math.ceil(end - now))
    if redis_client.enabled():
        try:
            value = redis_client.sync_client().get(_REDIS_PREFIX + key)
        except redis_client.ERRORS as exc:
            redis_client.failed("rate limits", exc)
        else:
            redis_client.succeeded()
            return Hit(count=int(value or 0), rate=rate, retry_after=retry_after)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count FROM {_table()} WHERE key = %s", [key])  # noqa: S608
        row = cursor.fetchone()
    return Hit(count=row[0] if row else 0, rate=rate, retry_after=retry_after)


def reset(scope: str, ident: str, rate: Rate) -> None:
    start, _ = _window(rate, time.time())
    key = _row_key(scope, ident, start)
    _refused.forget(key)
    if redis_client.enabled():
        try:
            redis_client.sync_client().delete(_REDIS_PREFIX + key)
        except redis_client.ERRORS as exc:
            redis_client.failed("rate limits", exc)
        else:
            redis_client.succeeded()
    # Also the table's row: it holds the hits counted while Redis was away.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE key = %s", [key])  # noqa: S608


# DECR only a key that is there: one whose window ended is gone, and a DECR
# would leave a -1 behind with no expiry.
_REDIS_UNDO = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end"


def undo(scope: str, ident: str, rate: Rate) -> None:
    """Take back one hit counted by ``hit`` in the current window (never below
    zero): for a count of attempts that keeps only the failed ones."""
    start, _ = _window(rate, time.time())
    key = _row_key(scope, ident, start)
    if redis_client.enabled():
        try:
            undone = redis_client.sync_client().eval(_REDIS_UNDO, 1, _REDIS_PREFIX + key)
        except redis_client.ERRORS as exc:
            redis_client.failed("rate limits", exc)
        else:
            redis_client.succeeded()
            if undone is not None:
                return
    # The hit went to the table (no Redis, or Redis was away when it counted).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET count = count - 1 WHERE key = %s AND count > 0",  # noqa: S608
            [key],
        )


class ReadHit:
    """A read's hit, counted in the round trip of the handler's first native
    read (``native_db.run_along``: the upsert goes after the read's own
    statements) rather than in one of its own before the handler; counted
    after the handler if it made no such read. The verdict comes after the
    handler, so an over-limit read is read but not sent; ``count_along`` then
    refuses that client's later reads before their handler, for the rest of
    the window (a window's count only grows)."""

    def __init__(self, counting: _Counting):
        self.counting = counting
        self.along: native_db.RunAlong | None = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """The block in which the handler runs."""
        key = self.counting.key
        _reading[key] = _reading.get(key, 0) + 1
        try:
            with native_db.run_along(*self.counting.upsert) as along:
                self.along = along
                yield
        finally:
            if _reading[key] == 1:
                del _reading[key]
            else:
                _reading[key] -= 1

    async def hit(self) -> Hit:
        # None if no native read came, or its round trip failed.
        counted = self.along.rows if self.along is not None else None
        hit = await _count_natively(self.counting, counted)
        if not hit.allowed:
            _refused.remember((self.counting.key, self.counting.rate), self.counting.end)
        return hit


class _Refused:
    """Counters over their limit in this process, by row key and rate, with
    their window's end: a bounded map, its expired entries dropped when it
    fills."""

    def __init__(self, size: int):
        self.size = size
        self.until: dict[tuple[str, Rate], int] = {}

    def __contains__(self, counter: tuple[str, Rate]) -> bool:
        return self.until.get(counter, 0) > time.time()

    def remember(self, counter: tuple[str, Rate], end: int) -> None:
        if len(self.until) >= self.size:
            now = time.time()
            self.until = {k: e for k, e in self.until.items() if e > now}
            if len(self.until) >= self.size:
                self.until.clear()
        self.until[counter] = end

    def forget(self, key: str) -> None:
        for counter in [counter for counter in self.until if counter[0] == key]:
            del self.until[counter]


_refused = _Refused(10_000)
# The counters with a read's hit riding along in this process, by row key,
# and how many: a hit of one of them is counted in a batch (``_Batch``)
# instead, so that one hot counter costs an upsert per round trip, not per
# read.
_reading: dict[str, int] = {}


def forget_refusals() -> None:
    """Forget which clients this process has refused (``count_along``), as
    when every counter is deleted (the tests' database is emptied)."""
    _refused.until.clear()


def count_along(scope: str, ident: str, rate: Rate) -> ReadHit | None:
    """A read's hit to be counted along with its handler's first native read
    (``ReadHit``), or None where it is counted before the handler, by
    ``ahit``: with Redis, without native reads (SQLite, the runtime off),
    for a client this process has refused in the current window, or for a
    counter that already has a read's hit riding along here (so the hits of
    a busy counter go in its batch, one upsert for all of them)."""
    if redis_client.enabled() or not native_db.native_enabled():
        return None
    counting = _Counting(scope, ident, rate)
    if (counting.key, rate) in _refused or counting.key in _reading:
        return None
    return ReadHit(counting)


async def ahit(scope: str, ident: str, rate: Rate) -> Hit:
    """``hit`` for async callers. On PostgreSQL the upsert runs on the native
    async pool (config.runtime.native_db): the check on every API request
    costs one round trip, not a thread hop, and the hits of one counter that
    arrive while its upsert is out go together in the next (``_Batch``).
    Elsewhere it runs on the request's own sync thread, with the request's
    connection, like every other ORM call. With Redis, one round trip on the
    event loop's asyncio client."""
    if redis_client.enabled():
        counting = _Counting(scope, ident, rate)
        try:
            count = await _acount_in_redis(counting)
        except redis_client.ERRORS as exc:
            redis_client.failed("rate limits", exc)
        else:
            redis_client.succeeded()
            return counting.result(count)
    if not native_db.native_enabled():
        return await sync_to_async(hit)(scope, ident, rate)
    return await _count_natively(_Counting(scope, ident, rate))


async def _count_natively(counting: _Counting, counted: list[tuple[Any, ...]] | None = None) -> Hit:
    """The hit on the native pool: ``counted`` is the upsert's rows if it
    already ran (along with a read), else it is counted in the counter's
    batch, in a round trip of its own."""
    if counted is None:
        increase = functools.partial(_aincrease_natively, counting)
        count = await _count_in_batch("postgresql", counting.key, increase)
    else:
        ((count,),) = counted
        if counting.should_purge(count):
            await native_db.execute(*counting.purge)
    return counting.result(count)


async def _aincrease_natively(counting: _Counting, hits: int) -> int:
    ((total,),) = await native_db.execute(*counting.upsert_of(hits))
    if counting.should_purge(total - hits + 1):  # the window's first hit among them
        await native_db.execute(*counting.purge)
    return int(total)


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, the socket's peer (under
    ``config.runtime.serve`` uvicorn rewrites it from forwarded headers only
    when ``TRUSTED_PROXY_COUNT`` > 0, and only for peers in
    ``TRUSTED_PROXY_IPS``). With ``TRUSTED_PROXY_COUNT`` = N > 0, the address
    N hops from the right of ``X-Forwarded-For``, as the last trusted proxy
    saw it; the header is ignored otherwise, since any client can send it."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if hops <= 0 or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    if not addresses:
        return remote
    return addresses[-min(hops, len(addresses))]
