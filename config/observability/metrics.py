"""Prometheus metrics: what is counted, how it is sampled, who may read it.

Imported only when metrics are on (``METRICS_ALLOWED_IPS`` or
``METRICS_TOKEN`` set, ``OBSERVABILITY`` on): off, nothing is counted.

Multiprocess mode. ``python -m config.runtime.serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before its workers start
(``prepare_metrics_dir``), so each worker writes its samples to files
there, and a scrape of any worker reads all of them. A worker that dies keeps
its counts (counters and histograms are cumulative); serve drops its
gauges. Gauges carry a ``pid`` label, one series per live worker. Without
that variable (plain ``uvicorn --workers N``) each worker answers for itself
alone.

Gauges are sampled, not kept up to date on every request: each worker samples
them once a second (a timer armed on its event loop by its first request),
and the worker answering a scrape samples its own first.
"""

import asyncio
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from config.observability import timing

logger = logging.getLogger(__name__)

# Set up by config.runtime.serve (which cannot import this package: the
# runtime depends on Django alone), read here.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_SECONDS = 1.0
PATH = "/metrics"

REQUESTS = Counter(
    "reelshelf_http_requests",
    "HTTP requests answered, by method, route (the URL pattern) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "reelshelf_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_SIZE = Gauge(
    "reelshelf_db_pool_connections",
    "Connections open in a database pool (pool: django or native).",
    ["pool", "database"],
    multiprocess_mode="liveall",
)
POOL_IN_USE = Gauge(
    "reelshelf_db_pool_in_use",
    "Connections of a database pool checked out by requests.",
    ["pool", "database"],
    multiprocess_mode="liveall",
)
POOL_WAITING = Gauge(
    "reelshelf_db_pool_waiting",
    "Requests waiting for a connection from a database pool.",
    ["pool", "database"],
    multiprocess_mode="liveall",
)
FAILING_FAST = Gauge(
    "reelshelf_db_failing_fast",
    "1 while connecting to the database fails fast (the last attempt failed, "
    "config/runtime/postgresql), else 0.",
    ["database"],
    multiprocess_mode="liveall",
)
SYNC_BACKLOG = Gauge(
    "reelshelf_sync_backlog",
    "Sync calls (sync views, ORM calls) waiting for one of the worker's sync threads.",
    multiprocess_mode="liveall",
)


def _django_pools() -> Iterable[tuple[str, str, Any]]:
    postgresql = [
        alias
        for alias, options in settings.DATABASES.items()
        if "postgresql" in options["ENGINE"] and (options.get("OPTIONS") or {}).get("pool")
    ]
    if not postgresql:
        return
    from django.db.backends.postgresql.base import DatabaseWrapper

    # Django keeps one pool per alias and process on the class: reading it
    # there does not make a connection object in the sampler's context.
    for alias in postgresql:
        pool = DatabaseWrapper._connection_pools.get(alias)  # type: ignore[attr-defined]
        if pool is not None:
            yield "django", alias, pool


def _sample_pool(pool_label: str, database: str, pool: Any) -> None:
    stats = pool.get_stats()
    size = stats.get("pool_size", 0)
    POOL_SIZE.labels(pool_label, database).set(size)
    POOL_IN_USE.labels(pool_label, database).set(size - stats.get("pool_available", 0))
    # get_stats() counts requests that ever waited; this is the queue now,
    # psycopg's and the one in front of the native pool (config/runtime/native_pool.py).
    waiting = len(getattr(pool, "_waiting", ())) + getattr(pool, "queued", 0)
    POOL_WAITING.labels(pool_label, database).set(waiting)


def _sample_breakers() -> None:
    runtime_backend = [
        alias
        for alias, options in settings.DATABASES.items()
        if options["ENGINE"] == "config.runtime.postgresql"
    ]
    if not runtime_backend:
        return
    from config.runtime.postgresql.base import breaker_for

    for alias in runtime_backend:
        failing = breaker_for(alias)._failing_since is not None
        FAILING_FAST.labels(alias).set(1 if failing else 0)


class Sampler:
    """Sets the gauges of this worker from its pools, breakers and threads."""

    def __init__(self, sync_backlog: Callable[[], int] | None):
        self.sync_backlog = sync_backlog
        self.armed = False

    def sample(self) -> None:
        try:
            for pool_label, database, pool in _django_pools():
                _sample_pool(pool_label, database, pool)
            for (pool_label, database), pool in list(timing.watched_pools.items()):
                _sample_pool(pool_label, database, pool)
            _sample_breakers()
            if self.sync_backlog is not None:
                SYNC_BACKLOG.set(self.sync_backlog())
        except Exception:  # a metric must never take a request down
            logger.exception("sampling the metrics failed")

    def arm(self) -> None:
        """Sample now and every SAMPLE_SECONDS on the running loop."""
        self.armed = True
        self._tick(asyncio.get_running_loop())

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sample()
        loop.call_later(SAMPLE_SECONDS, self._tick, loop)


class RequestMetrics:
    """Counts one answered request; the labelled children are looked up once
    per (method, route, status), as prometheus_client's ``labels()`` costs
    more than the increments."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 10_000:  # bounded whatever clients send
                self._children.clear()
            children = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: every worker's, in
    multiprocess mode."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


# Access ----------------------------------------------------------------------


class Access:
    """Who may read /metrics: a client address in ``METRICS_ALLOWED_IPS``
    (addresses or networks, checked against the address as trusted, see
    config.access.ratelimit.client_address), or a request carrying
    ``Authorization: Bearer <METRICS_TOKEN>``. Either one is enough."""

    def __init__(self, allowed: Iterable[str], token: str):
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in allowed]
        self.token = token.encode()

    def allows_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def allows_token(self, authorization: bytes | None) -> bool:
        if not self.token or authorization is None:
            return False
        scheme, _, credential = authorization.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self.token)


CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()
