"""Request bodies bounded at the ASGI level, before Django reads them.

Django's ``ASGIHandler.read_body`` (the runtime's handler calls it too) reads
the whole body into a temporary file before any middleware runs, so a limit
checked in middleware comes after the bytes are in. ``BodyLimits`` wraps the
application (config/asgi.py, whichever handler serves) and:

- answers 413 at once, without reading a byte of the body, to a declared
  ``Content-Length`` over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``DJANGO_MAX_BODY_BYTES``);
- counts a body sent without a length (chunked) while it is read, and at the
  first chunk that would pass the limit passes nothing more on and answers
  413: at most the limit is ever buffered;
- gives the whole body ``BODY_TIMEOUT`` seconds (``DJANGO_BODY_TIMEOUT``)
  from the application's first read; a body that stalls, or trickles in,
  is answered 408 and the connection closed.

These answers close the connection (``Connection: close``): the rest of the
body is never read. The texts are RequestLimitsMiddleware's (JSON
``{"detail": ...}`` under /api/, plain text elsewhere). A request with no
``Content-Length`` and no ``Transfer-Encoding`` has no body in HTTP/1.1 and
is passed on untouched, so a GET costs one scan of its headers.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

# A dict, as Django's ASGIHandler (and the runtime's) takes it.
Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT = {"type": "http.disconnect"}


def too_large_detail(limit: int) -> str:
    return f"Request body too large: at most {limit} bytes."


TIMEOUT_DETAIL = "Request body not received in time."


async def send_error(scope: Scope, send: Send, status: int, detail: str) -> None:
    path = scope.get("path", "")
    if path == "/api" or path.startswith("/api/"):
        body = json.dumps({"detail": detail}).encode()
        content_type = b"application/json"
    else:
        body = detail.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BoundedReceive:
    """``receive`` for one request: counts the body against ``limit`` and
    bounds the time to get it all; once the body is complete, passes
    messages (the disconnect Django listens for) straight on."""

    __slots__ = ("receive", "limit", "timeout", "deadline", "received", "complete", "refused")

    def __init__(self, receive: Receive, limit: int | None, timeout: float):
        self.receive = receive
        self.limit = limit
        self.deadline: float | None = None
        self.timeout = timeout
        self.received = 0
        self.complete = False
        self.refused: tuple[int, str] | None = None

    async def __call__(self) -> Message:
        if self.complete:
            return await self.receive()
        if self.refused is not None:
            return _DISCONNECT
        loop = asyncio.get_running_loop()
        if self.deadline is None:
            self.deadline = loop.time() + self.timeout
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.receive()
        except TimeoutError:
            self.refused = (408, TIMEOUT_DETAIL)
            return _DISCONNECT
        if message["type"] != "http.request":
            self.complete = True
            return message
        self.received += len(message.get("body", b""))
        if self.limit is not None and self.received > self.limit:
            # Nothing of this chunk or after it goes further.
            self.refused = (413, too_large_detail(self.limit))
            return _DISCONNECT
        if not message.get("more_body", False):
            self.complete = True
        return message


class BodyLimits:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The lifespan (and anything else) passes straight through.
            await self.app(scope, receive, send)
            return
        has_body = False
        length = 0
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0  # RequestLimitsMiddleware answers 400
                has_body = True
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:
            await self.app(scope, receive, send)
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            await send_error(scope, send, 413, too_large_detail(limit))
            return
        bounded = _BoundedReceive(receive, limit, settings.BODY_TIMEOUT)
        await self.app(scope, bounded, send)
        if bounded.refused is not None:
            # Django saw a disconnect and sent nothing: the answer is ours.
            await send_error(scope, send, *bounded.refused)
