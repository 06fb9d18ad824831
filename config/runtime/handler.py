"""An ASGI handler that keeps Django's semantics without thread churn.

Django's ASGIHandler (5.2) costs every request at least one new OS thread and
two trips to it, even when the view is async and never touches the sync ORM:

- it enters a fresh ``ThreadSensitiveContext`` per request, so the first
  thread-sensitive ``sync_to_async`` call creates a thread for the request,
  torn down at its end;
- it sends ``request_started`` with ``asend``, which runs Django's sync
  receivers through ``sync_to_async``, and closes the response through
  ``sync_to_async`` too (that sends ``request_finished``).

This handler changes only that:

1. Each request gets one of a fixed set of long-lived single-thread executors
   (the one with the fewest requests in flight) instead of a new thread. All of
   a request's sync work still runs on one thread, in order, so a sync view and
   the async ORM calls of one request share its thread-local connection as
   before; requests sharing a thread run their sync calls one after another,
   never interleaved inside a call, which is what transactions (opened and
   closed inside one sync call) need.
2. ``request_started`` receivers run on the event loop, where Django's
   receivers that act on the calling thread's database connections
   (``close_old_connections``, and ``reset_queries`` unless ``DEBUG`` logs
   queries) are left out: the loop thread never opens a connection (Django
   refuses to), so they would only look for one (``send_on_loop``).
3. The response is closed (and ``request_finished`` sent) on the request's
   thread only if the request used that thread; otherwise on the loop, where
   again there is no connection to close (``close_on_loop``), nor caches to
   close when no configured cache backend has anything to close (only
   memcached's do; the others inherit ``BaseCache.close``, which does
   nothing).
4. A body that comes whole in the first message, as every GET's empty one
   does, is read into memory at once (``read_body``) rather than through
   Django's ``SpooledTemporaryFile``, which in memory is the same buffer
   behind a wrapper; a body larger than ``FILE_UPLOAD_MAX_MEMORY_SIZE`` or
   in several messages still spools as in Django.
5. A finished request is released from the reference cycles Django's
   middleware and the disconnect listener would leave it in, so refcounting
   frees it at once rather than the cyclic garbage collector, later.
6. A request under ``RUNTIME_COOKIELESS_PREFIX`` (``/api/``) that carries no
   ``Cookie`` header takes a lane whose chain is ``MIDDLEWARE`` without the
   middleware that act only on what cookies carry: sessions, CSRF, the
   signed-in user and messages. Such a request has no session to load, no
   user to sign in, no CSRF cookie to check (API views are CSRF-exempt, and
   without cookies there is no ambient credential to forge) and no messages;
   it gets an empty, unsaved session (made only if read) and
   ``AnonymousUser`` in their place
   (token authentication sets its own user). Every other middleware, the
   security headers and limits included, runs as for any request.
7. The request is served in a task while another listens for the client
   going away, as in Django, but the handler waits on the serving task
   alone, which the listener cancels if the client goes first
   (``_served``), rather than through ``asyncio.wait`` on both.
8. A response that is not streamed is sent with its headers read off its
   header store as they are, already checked and converted when they were
   set, rather than looked up again one by one (``send_response``).

It also answers the ASGI lifespan protocol: startup binds the native async
reads of config.runtime.native_db to the server's event loop and tunes the garbage
collector (``tune_garbage_collector``), shutdown closes the native pool and
the threads.
"""

import asyncio
import contextlib
import gc
import io
import weakref
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import IO, Any, ParamSpec, TypeVar, cast

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django import db
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.contrib.sessions.backends.base import SessionBase
from django.core import signals
from django.core.cache import close_caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID, _make_id  # type: ignore[attr-defined]
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.middleware import csrf
from django.urls import set_script_prefix
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from config.runtime import native_db

# As django-stubs types ASGIHandler.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
P = ParamSpec("P")
T = TypeVar("T")


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Freeze what start-up allocated, and collect the youngest generation
    every ``gen0_threshold`` allocations.

    A loaded worker holds a few hundred requests in flight, whose objects
    survive young collections into the older ones, so every full collection
    rescans them, and with them the tens of thousands of objects of Django's
    start-up unless those are frozen. With finished requests freed by
    refcount (``release_request``, config/runtime/templates.py) the collector
    has little left to do; a larger ``gen0_threshold`` trades memory for the
    rest (figures in bench/RESULTS.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, *gc.get_threshold()[1:])


# Attributes that point back at the request: request.user's lazy loader and
# request.auser (auth), and the message storage (messages).
_REQUEST_CYCLES = ("user", "auser", "_messages")


def release_request(request: HttpRequest) -> None:
    """Break the reference cycles Django's middleware tie a request into.

    Refcounting then frees a finished request, and everything it holds (its
    META, session, resolver match), at once. Left in a cycle, every request
    becomes garbage for the cyclic collector, which under load rescans
    these objects by the hundred thousand in long pauses.
    """
    for name in _REQUEST_CYCLES:
        request.__dict__.pop(name, None)


# Middleware with nothing to do for a request without cookies (point 6 of the
# module docstring); the runtime's subclasses of these are subclasses too.
COOKIE_MIDDLEWARE = (
    sessions_middleware.SessionMiddleware,
    csrf.CsrfViewMiddleware,
    auth_middleware.AuthenticationMiddleware,
    messages_middleware.MessageMiddleware,
)


def cookieless_lane() -> BaseHandler:
    """A handler whose async chain is MIDDLEWARE without COOKIE_MIDDLEWARE.

    Django's ``load_middleware`` reads ``settings.MIDDLEWARE``; it is given
    the shorter list for the length of that call, at start-up."""
    lane = BaseHandler()
    middleware = settings.MIDDLEWARE
    settings.MIDDLEWARE = [
        path for path in middleware if not issubclass(import_string(path), COOKIE_MIDDLEWARE)
    ]
    try:
        lane.load_middleware(is_async=True)
    finally:
        settings.MIDDLEWARE = middleware
    return lane


def _connection_receivers() -> frozenset[Callable[..., Any]]:
    """Django's request signal receivers that have nothing to do on the
    loop: those that act only on the calling thread's database connections
    (``reset_queries`` empties their query logs, which only ``DEBUG`` fills
    on the loop), and ``close_caches`` when no configured cache backend
    overrides ``BaseCache.close``."""
    receivers = {db.close_old_connections}
    if not settings.DEBUG:
        receivers.add(db.reset_queries)
    backends = [import_string(str(cache["BACKEND"])) for cache in settings.CACHES.values()]
    if all(backend.close is BaseCache.close for backend in backends):
        receivers.add(close_caches)
    return frozenset(receivers)


# Marks send_on_loop's entries in a signal's ``sender_receivers_cache``.
_ON_LOOP = object()


def _receivers_on_loop(
    signal: Signal, sender: type, skip: frozenset[Callable[..., Any]]
) -> tuple[tuple[Any, bool], ...]:
    """The receivers of ``signal`` for ``sender`` but ``skip``, as Django's
    ``_live_receivers`` (5.2) selects them, weak references left as they
    are, as ``(receiver, is_async)``.

    Kept in the signal's ``sender_receivers_cache``, which Django empties
    whenever a receiver connects or disconnects, and found again if the
    signal's list of receivers has been replaced or changed length meanwhile;
    a weakly connected receiver that has died dereferences to None."""
    receivers = signal.receivers
    cache: MutableMapping[Any, Any] = signal.sender_receivers_cache
    key = (_ON_LOOP, sender, skip)
    known = cache.get(key)
    if known is not None and known[0] is receivers and known[1] == len(receivers):
        return known[2]  # type: ignore[no-any-return]
    with signal.lock:
        receivers = signal.receivers
        sender_key = _make_id(sender)
        selected = tuple(
            (receiver, is_async)
            for (_, receiver_sender), receiver, is_async in receivers
            if receiver_sender in (NONE_ID, sender_key) and _dereferenced(receiver) not in skip
        )
        cache[key] = (receivers, len(receivers), selected)
    return selected


def _dereferenced(receiver: Any) -> Any:
    return receiver() if isinstance(receiver, weakref.ReferenceType) else receiver


async def send_on_loop(
    signal: Signal, sender: type, skip: frozenset[Callable[..., Any]], **named: Any
) -> None:
    """``signal.asend`` from the event loop thread, to every receiver but
    ``skip``: sync receivers are called on the loop (they do no I/O there,
    point 2), async ones awaited together (Django's ``Signal.asend``, 5.2),
    the receivers found once until they change (``_receivers_on_loop``)."""
    if signal.use_caching:  # its cache is Django's, keyed by sender alone
        sync_receivers, async_receivers = signal._live_receivers(sender)
        selected = [(receiver, False) for receiver in sync_receivers if receiver not in skip]
        selected += [(receiver, True) for receiver in async_receivers]
    else:
        selected = _receivers_on_loop(signal, sender, skip)  # type: ignore[assignment]
    waiting = []
    for receiver, is_async in selected:
        live = _dereferenced(receiver)
        if live is None:
            continue
        if is_async:
            waiting.append(live(signal=signal, sender=sender, **named))
        else:
            live(signal=signal, sender=sender, **named)
    if waiting:
        await asyncio.gather(*waiting)


async def close_on_loop(response: HttpResponseBase, skip: frozenset[Callable[..., Any]]) -> None:
    """``response.close()`` (Django's ``HttpResponseBase.close``, 5.2) on the
    event loop thread: ``request_finished`` goes through ``send_on_loop``."""
    closers: list[Callable[[], object]] = response._resource_closers  # type: ignore[attr-defined]
    for closer in closers:
        with contextlib.suppress(Exception):
            closer()
    closers.clear()
    response.closed = True
    sender = response._handler_class  # type: ignore[attr-defined]
    await send_on_loop(signals.request_finished, sender, skip)


def _replaying(first: Mapping[str, Any], receive: Receive) -> Receive:
    """``receive`` with ``first`` given back before the messages still to come."""
    given = False

    async def replay() -> Mapping[str, Any]:
        nonlocal given
        if given:
            return await receive()
        given = True
        return first

    return replay


async def _served(serving: asyncio.Task[Any], listening: asyncio.Task[None]) -> None:
    """Return once ``serving`` is done, cancelling it if ``listening`` (the
    disconnect listener) finishes first: Django's ``asyncio.wait`` for the
    first of the two, then its cancel and wait, with one future in place of
    the waiter and callbacks ``asyncio.wait`` sets up and takes down."""
    finished = asyncio.get_running_loop().create_future()

    def serving_done(task: asyncio.Task[Any]) -> None:
        if not finished.done():
            finished.set_result(None)

    serving.add_done_callback(serving_done)
    listening.add_done_callback(lambda task: serving.cancel())
    await finished


async def _anonymous_user() -> AnonymousUser:
    return AnonymousUser()


class _RequestExecutor(Executor):
    """One request's view of its shared thread: remembers whether it was used."""

    def __init__(self, thread: ThreadPoolExecutor):
        self.thread = thread
        self.used = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.used = True
        return self.thread.submit(fn, *args, **kwargs)


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, thread_count: int | None = None):
        super().__init__()
        count = thread_count or settings.ASGI_SYNC_THREADS
        self._threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}")
            for i in range(count)
        ]
        self._in_flight = [0] * count
        self._cookieless_prefix: str = settings.RUNTIME_COOKIELESS_PREFIX
        self._cookieless = cookieless_lane() if self._cookieless_prefix else None
        self._session_store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
        self._connection_receivers = _connection_receivers()

    def sync_backlog(self) -> int:
        """Sync calls queued for the threads and not yet started (a metric:
        config/observability)."""
        return sum(thread._work_queue.qsize() for thread in self._threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        index = self._in_flight.index(min(self._in_flight))
        self._in_flight[index] += 1
        executor = _RequestExecutor(self._threads[index])
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send, executor)
        finally:
            self._in_flight[index] -= 1

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, executor: _RequestExecutor | None = None
    ) -> None:
        """Django's ASGIHandler.handle (5.2), with the signal and close
        changes described in the module docstring."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        await send_on_loop(
            signals.request_started, self.__class__, self._connection_receivers, scope=scope
        )
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request(request: HttpRequest, send: Send) -> HttpResponseBase:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # client went away
                await self.send_response(response, send)
            return response

        # Serve the request while listening for the client going away.
        serving = asyncio.create_task(process_request(request, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        await _served(serving, listening)
        if not listening.done():
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        for task in (listening, serving):
            # exception() rather than Django's result(): re-raising here
            # would add this frame, which holds the tasks, to the
            # exception's traceback, a cycle only the collector frees.
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, RequestAborted):
                if isinstance(error, AssertionError):
                    body_file.close()
                raise error

        try:
            response = serving.result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if executor is None or executor.used:
                await sync_to_async(response.close)()
            else:
                await close_on_loop(response, self._connection_receivers)
        body_file.close()
        release_request(request)

    async def read_body(self, receive: Receive) -> IO[bytes]:
        """Django's, with a body that comes whole in one message kept in
        memory as it is (point 4 of the module docstring)."""
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        body = message.get("body", b"")
        if message.get("more_body", False) or len(body) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            return await super().read_body(_replaying(message, receive))
        return io.BytesIO(body)

    async def send_response(self, response: HttpResponseBase, send: Send) -> None:
        """Django's, with the headers of a response that is not streamed read
        straight off its store (point 8 of the module docstring)."""
        if response.streaming:
            await super().send_response(response, send)
            return
        # ResponseHeaders.__setitem__ made every name an ASCII str and every
        # value a Latin-1 one; Django's copy looks each up again by name.
        store: dict[str, tuple[str, str]] = response.headers._store
        headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in store.values()]
        for cookie in response.cookies.values():
            headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        for chunk, last in self.chunk_bytes(response.content):  # type: ignore[attr-defined]
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        """Django's, with cookie-less requests under the prefix in their lane."""
        if (
            self._cookieless is None
            or "HTTP_COOKIE" in request.META
            or not request.path_info.startswith(self._cookieless_prefix)
        ):
            return await super().run_get_response(request)
        # Built if a view reads it: a cache-backed session engine makes the
        # cache's client in every request's context.
        request.session = cast(SessionBase, SimpleLazyObject(self._session_store))
        request.user = AnonymousUser()
        request.auser = _anonymous_user
        response = await self._cookieless.get_response_async(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                native_db.bind_to_running_loop()
                tune_garbage_collector(settings.ASGI_GC_GEN0_THRESHOLD)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await native_db.close_pool()
                for thread in self._threads:
                    thread.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return
