"""The project's Redis clients, when ``REDIS_URL`` is set, and what happens
while Redis is away.

Redis is an accelerator here, never the system of record: rate-limit
counters (config.access.ratelimit) and cached sessions (config.sessions) fall
back to the database when a Redis call fails. After a failure Redis is left
alone for ``RETRY_SECONDS``, so a Redis that hangs or refuses costs one
timeout (``REDIS_TIMEOUT``) per process and retry period, not one per
request; one warning is logged per outage, and one line when it answers again.

Two clients share the URL: redis-py's asyncio client for the event loop (one
per loop, since its connections belong to the loop that opened them; at most
``REDIS_POOL_SIZE`` connections) and its sync client for sync code such as
the login form.
"""

import asyncio
import logging
import time
import weakref
from typing import Any

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# What a failed call raises: refused, reset, timed out, or an answer that is
# not one (a server that is loading or read-only).
ERRORS = (redis.RedisError, OSError)

_down_until = 0.0
_sync_client: redis.Redis | None = None
_sync_url = ""
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[str, redis.asyncio.Redis]]" = (  # noqa: E501
    weakref.WeakKeyDictionary()
)


def enabled() -> bool:
    """Redis is configured and not known to be down."""
    return bool(settings.REDIS_URL) and time.monotonic() >= _down_until


def _options() -> dict[str, Any]:
    return {
        "socket_connect_timeout": settings.REDIS_TIMEOUT,
        "socket_timeout": settings.REDIS_TIMEOUT,
        # A call fails once; the fallback is the retry.
        "retry_on_timeout": False,
    }


def sync_client() -> redis.Redis:
    global _sync_client, _sync_url
    if _sync_client is None or _sync_url != settings.REDIS_URL:
        _sync_client = redis.Redis.from_url(settings.REDIS_URL, **_options())
        _sync_url = settings.REDIS_URL
    return _sync_client


def async_client() -> redis.asyncio.Redis:
    """The asyncio client of the running event loop."""
    loop = asyncio.get_running_loop()
    entry = _async_clients.get(loop)
    if entry is None or entry[0] != settings.REDIS_URL:
        # At most REDIS_POOL_SIZE connections, each call waiting its turn (up
        # to REDIS_TIMEOUT) for one: redis-py's default pool refuses a call
        # at once when all of its connections are busy, which under load
        # reads as Redis being down.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_POOL_SIZE,
            timeout=settings.REDIS_TIMEOUT,
            **_options(),
        )
        entry = (settings.REDIS_URL, redis.asyncio.Redis(connection_pool=pool))
        _async_clients[loop] = entry
    return entry[1]


def failed(what: str, exc: BaseException) -> None:
    """Record a failed Redis call: skip Redis for ``RETRY_SECONDS``."""
    global _down_until
    if _down_until == 0.0:
        logger.warning(
            "Redis unreachable (%s: %s): %s use the database until it answers",
            exc.__class__.__name__,
            exc,
            what,
        )
    _down_until = time.monotonic() + RETRY_SECONDS


def succeeded() -> None:
    global _down_until
    if _down_until:
        logger.warning("Redis answers again")
        _down_until = 0.0
