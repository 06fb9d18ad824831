"""The native async reads' connection pool: psycopg's, with the requests
that find every connection taken queued in front of it.

psycopg_pool (3.2) queues a request that finds no connection ready as a
``WaitingClient``: an ``asyncio.Condition`` and its lock, entered by the
request and again by whoever hands it a connection, and an
``asyncio.wait_for`` that wraps the wait in a task of its own. Under load,
when most requests of a worker wait for one of its few connections, that is
paid by nearly every request (figures in bench/RESULTS.md).

``QueuedAsyncConnectionPool`` lets at most ``max_size`` requests into
psycopg's ``getconn`` at a time, as many as there can be connections, and
queues the others on a plain future each, in arrival order, woken by
``putconn`` once the connection it gives back is in the pool again. So
psycopg's own queue is left to the requests that find the pool still
opening, growing or replacing a connection, as before; everything else
about connections (opening, growing, replacing, closing) is psycopg's. A
queued request waits for at most ``timeout`` in all, queue and pool, and is
then refused with psycopg's ``PoolTimeout``.
"""

import asyncio
import time
from collections import deque
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout


class QueuedAsyncConnectionPool(AsyncConnectionPool[psycopg.AsyncConnection[Any]]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entries_free = self.max_size
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting in front of the pool (a metric: config/observability)."""
        return sum(1 for waiter in self._queue if not waiter.done())

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:  # noqa: ASYNC109  (psycopg's signature)
        if timeout is None:
            timeout = self.timeout
        if self._entries_free and not self._queue:
            self._entries_free -= 1
        else:
            started = time.monotonic()
            await self._queued_entry(timeout)
            timeout = max(timeout - (time.monotonic() - started), 0.0)
        try:
            return await super().getconn(timeout)
        except BaseException:
            self._leave()
            raise

    async def putconn(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await super().putconn(conn)
        finally:
            self._leave()

    async def _queued_entry(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait for one of the ``max_size`` places in psycopg's getconn,
        behind the requests already waiting."""
        queue = self._queue
        while queue and queue[0].done():  # timed out or cancelled meanwhile
            queue.popleft()
        if self._entries_free and not queue:
            self._entries_free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        queue.append(waiter)
        expiry = loop.call_later(timeout, _expire, waiter, timeout)
        try:
            await waiter
        except BaseException:
            # Handed a place just as this request was cancelled: pass it on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._leave()
            raise
        finally:
            expiry.cancel()

    def _leave(self) -> None:
        """Give a place back: to the first request still queued, if any."""
        queue = self._queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._entries_free += 1


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        # psycopg's own message for a request that waited too long.
        waiter.set_exception(PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec"))
