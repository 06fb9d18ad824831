"""The one piece that observes requests: an ASGI middleware around the whole
application (config/asgi.py), outside the body limits, so every request is
seen, those refused before Django included.

Per request it

- takes the request id from ``X-Request-ID`` when a proxy is declared
  (``TRUSTED_PROXY_COUNT`` > 0, the same rule as for ``X-Forwarded-For``),
  or makes one, and sends it back in ``X-Request-ID``;
- sets ``timing.current`` for the time it serves the request, so every log
  line written meanwhile carries the id and every query adds its time;
- on API responses (``/api/``), adds ``Server-Timing: db;dur=<ms>;desc="<n>
  queries"``, measured until the response starts;
- writes one access line (logger ``config.observability.access``, INFO):
  method, path with query string (redacted), status, bytes of body sent,
  duration until the response ended, client address as trusted
  (config.access.ratelimit.client_address);
- with metrics on, counts it by method, route and status, and its latency by
  route, and answers ``/metrics`` itself, to those allowed.

It does no I/O of its own on the request path but the log line, and moves
nothing to a thread. ``OBSERVABILITY=0`` leaves the application unwrapped.
"""

import asyncio
import itertools
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from time import perf_counter
from typing import Any

from django.conf import settings
from django.urls import Resolver404, get_resolver

from config.access.log_filters import redact
from config.access.ratelimit import client_address
from config.observability import timing
from config.runtime import native_db

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_logger = logging.getLogger("config.observability.access")

# A request id we make: this process's random prefix and a counter, unique
# across workers and restarts, and far cheaper than a uuid4 per request.
_ID_PREFIX = os.urandom(4).hex()
_id_numbers = itertools.count(1)
# An id a proxy sends is kept only if it is short and plain, as it goes into
# every log line and back to the client.
_VALID_ID = re.compile(r"[A-Za-z0-9._:@=+/-]{1,128}")
# Text that no redaction pattern can match (config.access.log_filters):
# every one needs one of these.
_MAY_HOLD_SECRET = re.compile(r"[=:\s]|rs_", re.IGNORECASE)

_BOUND = 2048  # entries per cache below, whatever clients send


def _new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_id_numbers):x}"


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


class _Meta:
    """Just enough of a request for ``client_address``."""

    __slots__ = ("META",)

    def __init__(self, meta: dict[str, str]):
        self.META = meta


class _Exchange:
    """The ``send`` of one request: notes status and bytes, adds headers."""

    __slots__ = ("send", "state", "api", "status", "bytes")

    def __init__(self, send: Send, state: timing.RequestState, api: bool):
        self.send = send
        self.state = state
        self.api = api
        self.status = 0
        self.bytes = 0

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            self.bytes += len(message.get("body", b""))
        elif kind == "http.response.start":
            self.status = message["status"]
            added = [(b"x-request-id", self.state.request_id.encode())]
            if self.api:
                state = self.state
                value = f'db;dur={state.db_seconds * 1000:.2f};desc="{state.queries} queries"'
                added.append((b"server-timing", value.encode()))
            message = {**message, "headers": [*message.get("headers", ()), *added]}
        await self.send(message)


class Observability:
    def __init__(self, app: ASGIApp, *, sync_backlog: Callable[[], int] | None = None):
        self.app = app
        self.trust_request_id = settings.TRUSTED_PROXY_COUNT > 0
        self.forwarded_hops = settings.TRUSTED_PROXY_COUNT
        self.access_log = settings.ACCESS_LOG
        self.metrics: Any = None
        self._targets: dict[str, str] = {}
        self._routes: dict[str, str] = {}
        if settings.METRICS_ALLOWED_IPS or settings.METRICS_TOKEN:
            from config.observability import metrics

            self.metrics = metrics
            self.access = metrics.Access(settings.METRICS_ALLOWED_IPS, settings.METRICS_TOKEN)
            self.requests = metrics.RequestMetrics()
            self.sampler = metrics.Sampler(sync_backlog)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        path: str = scope["path"]
        request_id = None
        if self.trust_request_id:
            given = _header(scope["headers"], b"x-request-id")
            if given is not None:
                text = given.decode("latin-1")
                if _VALID_ID.fullmatch(text):
                    request_id = text
        state = timing.RequestState(request_id or _new_request_id())
        token = timing.current.set(state)
        exchange = _Exchange(send, state, path == "/api" or path.startswith("/api/"))
        try:
            if self.metrics is not None and path == self.metrics.PATH:
                await self._serve_metrics(scope, exchange)
            else:
                await self.app(scope, receive, exchange)
        except BaseException:
            if exchange.status == 0:
                exchange.status = 500  # what the server answers for us
            raise
        finally:
            self._finish(scope, exchange, perf_counter() - started)
            timing.current.reset(token)

    def _finish(self, scope: Scope, exchange: _Exchange, seconds: float) -> None:
        try:
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                self._log(scope, exchange, seconds)
            if self.metrics is not None:
                if not self.sampler.armed:
                    self.sampler.arm()
                status = exchange.status or 499
                self.requests.observe(scope["method"], self._route(scope), status, seconds)
        except Exception:  # observing must never take a request down
            logging.getLogger(__name__).exception("observing a request failed")

    def _log(self, scope: Scope, exchange: _Exchange, seconds: float) -> None:
        target = scope["path"]
        if query := scope.get("query_string"):
            target = f"{target}?{query.decode('latin-1')}"
        target = self._redacted(target)
        client = self._client(scope)
        method = scope["method"]
        # No response at all: the client went away first (nginx's 499).
        status = exchange.status or 499
        milliseconds = round(seconds * 1000, 2)
        http = {
            "method": method,
            "path": target,
            "status": status,
            "bytes": exchange.bytes,
            "duration_ms": milliseconds,
            "client": client,
        }
        # makeRecord and handle, not info(): an access line has no caller
        # worth finding on the stack. Every text in it is redacted above (or
        # cannot hold a secret), so the redaction filter may skip it.
        record = access_logger.makeRecord(
            access_logger.name,
            logging.INFO,
            "",
            0,
            '"%s %s" %s %sB %sms %s',
            (method, target, status, exchange.bytes, milliseconds, client),
            None,
            extra={"http": http, "_secrets_redacted": True},
        )
        access_logger.handle(record)

    def _client(self, scope: Scope) -> str:
        """The client's address as the rate limits trust it."""
        meta = {"REMOTE_ADDR": (scope.get("client") or ("unknown",))[0]}
        if self.forwarded_hops > 0:
            forwarded = _header(scope["headers"], b"x-forwarded-for")
            if forwarded is not None:
                meta["HTTP_X_FORWARDED_FOR"] = forwarded.decode("latin-1")
        return client_address(_Meta(meta))

    def _redacted(self, target: str) -> str:
        """``target`` with secrets redacted (config.access.log_filters),
        remembered per target: the patterns cost more than the rest of the
        line."""
        if not _MAY_HOLD_SECRET.search(target):
            return target
        done = self._targets.get(target)
        if done is None:
            done = redact(target)
            if len(self._targets) >= _BOUND:
                self._targets.clear()
            self._targets[target] = done
        return done

    def _route(self, scope: Scope) -> str:
        """The URL pattern that serves the path (a label of bounded
        cardinality), remembered per path: resolving costs tens of
        microseconds."""
        path: str = scope["path"]
        route = self._routes.get(path)
        if route is None:
            if path == self.metrics.PATH:
                route = "metrics"
            else:
                path_info = path.removeprefix(scope.get("root_path", "")) or "/"
                try:
                    route = "/" + get_resolver().resolve(path_info).route
                except Resolver404:
                    route = "(unmatched)"
            if len(self._routes) >= _BOUND:
                self._routes.clear()
            self._routes[path] = route
        return route

    async def _serve_metrics(self, scope: Scope, send: Send) -> None:
        metrics = self.metrics
        allowed = self.access.allows_address(self._client(scope)) or (
            self.access.allows_token(_header(scope["headers"], b"authorization"))
        )
        if not allowed:
            status, body = 403, b"Forbidden: metrics are for the addresses or token configured.\n"
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if self.access.token:
                headers.append((b"www-authenticate", b"Bearer"))
                status = 401
        else:
            self.sampler.sample()
            # Reading every worker's files is I/O: off the event loop.
            body = await asyncio.to_thread(metrics.exposition)
            status, headers = 200, [(b"content-type", metrics.CONTENT_TYPE)]
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"cache-control", b"no-store"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def observe(app: ASGIApp, *, sync_backlog: Callable[[], int] | None = None) -> ASGIApp:
    """``app`` observed (``OBSERVABILITY`` on, the default), or ``app`` itself."""
    if not settings.OBSERVABILITY:
        return app
    timing.install_on_connect()
    if timing.record_query not in native_db.query_observers:
        native_db.query_observers.append(timing.record_query)
        native_db.pool_observers.append(partial(timing.watch_pool, "native"))
    return Observability(app, sync_backlog=sync_backlog)
