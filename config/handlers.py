"""An ASGI handler that keeps Django's semantics without a thread per request.

Django's ASGIHandler enters a fresh ``ThreadSensitiveContext`` for every
request. The first thread-sensitive ``sync_to_async`` call inside it (the
``request_started`` receivers, a sync view, every async ORM call) then creates a
new OS thread, which is torn down when the request ends. Under load that
creation and teardown dominates a small JSON response (see bench/RESULTS.md).

This handler gives each request a thread from a fixed set of long-lived
single-thread executors instead, picking the one with the fewest requests in
flight. Within a request nothing changes: all of its sync work still runs on
one thread, in order, so a sync view and the async ORM calls of one request
see the same thread-local database connection, and ``request_finished`` hands
that connection back to the pool as before. Requests that share a thread run
their sync calls one after another, never interleaved inside a call, which is
what transactions (always opened and closed inside one sync call) need.

It also answers the ASGI lifespan protocol, so uvicorn can shut the process
down cleanly and the native async connection pool is closed on exit.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, thread_count: int | None = None):
        super().__init__()
        count = thread_count or settings.ASGI_SYNC_THREADS
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}")
            for i in range(count)
        ]
        self._in_flight = [0] * count

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        index = self._in_flight.index(min(self._in_flight))
        self._in_flight[index] += 1
        try:
            async with ThreadSensitiveContext(executor=self._executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self._in_flight[index] -= 1

    async def lifespan(self, receive, send):
        from config import db_async

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await db_async.close_pool()
                for executor in self._executors:
                    executor.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return
