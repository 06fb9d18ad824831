"""Reads from read replicas, writes to the primary (``DATABASE_REPLICA_URLS``).

A streaming replica lags the primary by a little, so a client that has just
written would not find its write on a replica: an order placed, then the
order list. So the primary also serves the reads of

- a request that has written (any write routed here marks it) or is inside
  a transaction on the primary, for the rest of that request;
- a client that wrote within ``REPLICA_READ_AFTER_WRITE_SECONDS``: the
  response to a request that wrote carries a cookie saying until when, and a
  request with a bearer token is pinned by that token too, through Django's
  cache (shared by every host when ``REDIS_URL`` is set; per process
  otherwise), since API clients need not keep cookies.

The cookie holds only a time: a client that forges one can make its own reads
go to the primary, for at most that many seconds from each request, and
nothing else. Raw SQL outside the ORM (the rate-limit counters) always runs
on the primary's connection.

Code that picks a connection itself, such as the native async read path,
asks ``read_alias(model)``: the alias this request's reads of ``model`` use.
"""

import asyncio
import contextvars
import hashlib
import math
import random
import time
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from config import redis_client

PRIMARY = "default"
COOKIE = "primary_until"


class _ClientState:
    """What the router knows of the current request's client."""

    __slots__ = ("pinned", "replica", "wrote")

    def __init__(self, pinned: bool = False):
        self.pinned = pinned  # reads go to the primary
        self.wrote = False  # this request wrote: pin the client for a while
        self.replica: str | None = None  # the one replica this request reads


_state: contextvars.ContextVar[_ClientState | None] = contextvars.ContextVar(
    "replica_client_state", default=None
)


def read_alias(model: Any = None) -> str:
    """The database this request (or code outside any request) reads
    ``model`` from: the primary when there is no replica, while the client is
    pinned, or inside a transaction on the primary; otherwise a replica,
    chosen at random once per request (so the request reads one snapshot
    source), or per query outside requests."""
    replicas = settings.DATABASE_REPLICAS
    if not replicas:
        return PRIMARY
    state = _state.get()
    if state is not None and state.pinned:
        return PRIMARY
    if _in_transaction():
        return PRIMARY
    if state is None:
        return random.choice(replicas)  # noqa: S311 (load spreading, not security)
    if state.replica is None:
        state.replica = random.choice(replicas)  # noqa: S311
    return state.replica


def _in_transaction() -> bool:
    """Inside ``atomic()`` on the primary, where a read must see the
    transaction's own writes. Never on an event loop (Django refuses
    transactions there), and looking would cost a connection object per
    request context there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return connections[PRIMARY].in_atomic_block
    return False


def mark_write() -> None:
    """Record that the current request wrote: its later reads, and its
    client's for ``REPLICA_READ_AFTER_WRITE_SECONDS``, use the primary."""
    state = _state.get()
    if state is not None:
        state.pinned = state.wrote = True


class PrimaryReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return read_alias(model)

    def db_for_write(self, model: Any, **hints: Any) -> str:
        mark_write()
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # Every alias holds the same data.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # Replicas follow the primary's schema through replication.
        return db == PRIMARY


def _token_key(request: Any) -> str | None:
    value = request.headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return "primary-until:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def _pinned_until(value: str | bytes | None, now: float) -> bool:
    """A cookie or stored value that pins the client now; values further out
    than the setting allows are ignored."""
    try:
        until = float(value or 0)
    except ValueError:
        return False
    # A second's grace for clocks that differ between app hosts.
    return now < until <= now + settings.REPLICA_READ_AFTER_WRITE_SECONDS + 1


# Token pins: in Redis when there is one (shared by every host; redis-py's
# clients directly, so the event loop never hops to a thread for them), in
# this process's cache otherwise (memory, no I/O). A Redis that fails pins
# nobody: reads then go to replicas, as for a client that never wrote.
def _token_pin(key: str) -> Any:
    if not settings.REDIS_URL:
        return cache.get(key)
    if not redis_client.enabled():
        return None
    try:
        value = redis_client.sync_client().get(key)
    except redis_client.ERRORS as exc:
        redis_client.failed("read-after-write pins", exc)
        return None
    redis_client.succeeded()
    return value


def _set_token_pin(key: str, until: float) -> None:
    seconds = math.ceil(settings.REPLICA_READ_AFTER_WRITE_SECONDS)
    if not settings.REDIS_URL:
        cache.set(key, until, seconds)
    elif redis_client.enabled():
        try:
            redis_client.sync_client().set(key, until, ex=seconds)
        except redis_client.ERRORS as exc:
            redis_client.failed("read-after-write pins", exc)


async def _atoken_pin(key: str) -> Any:
    if not settings.REDIS_URL:
        return cache.get(key)
    if not redis_client.enabled():
        return None
    try:
        value = await redis_client.async_client().get(key)
    except redis_client.ERRORS as exc:
        redis_client.failed("read-after-write pins", exc)
        return None
    redis_client.succeeded()
    return value


async def _aset_token_pin(key: str, until: float) -> None:
    seconds = math.ceil(settings.REPLICA_READ_AFTER_WRITE_SECONDS)
    if not settings.REDIS_URL:
        cache.set(key, until, seconds)
    elif redis_client.enabled():
        try:
            await redis_client.async_client().set(key, until, ex=seconds)
        except redis_client.ERRORS as exc:
            redis_client.failed("read-after-write pins", exc)


class ReadAfterWriteMiddleware:
    """Sets the router's view of the client for each request and, after a
    request that wrote, pins the client to the primary (see the module)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        now = time.time()
        key = _token_key(request)
        pinned = _pinned_until(request.COOKIES.get(COOKIE), now) or (
            key is not None and _pinned_until(_token_pin(key), now)
        )
        state = _ClientState(pinned)
        reset = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(reset)
        if state.wrote:
            until = self._pin(response, now)
            if key is not None:
                _set_token_pin(key, until)
        return response

    async def __acall__(self, request: Any) -> Any:
        now = time.time()
        key = _token_key(request)
        pinned = _pinned_until(request.COOKIES.get(COOKIE), now) or (
            key is not None and _pinned_until(await _atoken_pin(key), now)
        )
        state = _ClientState(pinned)
        reset = _state.set(state)
        try:
            response = await self.get_response(request)
        finally:
            _state.reset(reset)
        if state.wrote:
            until = self._pin(response, now)
            if key is not None:
                await _aset_token_pin(key, until)
        return response

    @staticmethod
    def _pin(response: Any, now: float) -> float:
        seconds = settings.REPLICA_READ_AFTER_WRITE_SECONDS
        until = now + seconds
        response.set_cookie(
            COOKIE,
            f"{until:.3f}",
            max_age=max(1, math.ceil(seconds)),
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return until
