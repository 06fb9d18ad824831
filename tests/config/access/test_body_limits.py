"""Request bodies are bounded before Django reads them (config/access/body_limits.py):
a declared length over the limit is refused unread, a chunked body is cut at
the limit, a stalled body is answered in bounded time. Against the ASGI
application directly, and against a live server with raw sockets."""

import asyncio
import json
import socket
import time

import pytest

from config.access.body_limits import BodyLimits
from tests.live import uvicorn_server

LIMIT = 1000


class Recorder:
    """An inner application that reads the body as Django does, and a
    client side that records what was sent."""

    def __init__(self, chunks, *, stall=False):
        self.chunks = list(chunks)
        self.stall = stall
        self.receive_calls = 0
        self.app_body = b""
        self.app_called = False
        self.sent = []

    async def receive(self):
        self.receive_calls += 1
        if not self.chunks:
            await asyncio.sleep(3600)
        body = self.chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks) or self.stall}

    async def send(self, message):
        self.sent.append(message)

    async def app(self, scope, receive, send):
        self.app_called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # Django: RequestAborted, nothing sent
            self.app_body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    @property
    def status(self):
        return self.sent[0]["status"]

    @property
    def body(self):
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def http_scope(path="/api/orders", headers=()):
    return {"type": "http", "method": "POST", "path": path, "headers": list(headers)}


@pytest.fixture
def limits(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    settings.BODY_TIMEOUT = 0.2


async def test_a_declared_length_over_the_limit_is_413_json_without_reading(limits):
    client = Recorder([b"x" * 100])
    scope = http_scope(headers=[(b"content-length", str(LIMIT + 1).encode())])
    await BodyLimits(client.app)(scope, client.receive, client.send)
    assert client.receive_calls == 0
    assert not client.app_called
    assert client.status == 413
    assert json.loads(client.body) == {"detail": f"Request body too large: at most {LIMIT} bytes."}
    assert (b"connection", b"close") in client.sent[0]["headers"]


async def test_outside_the_api_the_413_is_plain_text(limits):
    client = Recorder([])
    scope = http_scope("/accounts/login/", [(b"content-length", b"999999999")])
    await BodyLimits(client.app)(scope, client.receive, client.send)
    assert client.status == 413
    assert client.body == f"Request body too large: at most {LIMIT} bytes.".encode()
    assert (b"content-type", b"text/plain; charset=utf-8") in client.sent[0]["headers"]


async def test_a_chunked_body_is_cut_at_the_limit(limits):
    client = Recorder([b"x" * 400] * 10)
    scope = http_scope(headers=[(b"transfer-encoding", b"chunked")])
    await BodyLimits(client.app)(scope, client.receive, client.send)
    assert client.status == 413
    assert len(client.app_body) <= LIMIT
    # The chunk that passed the limit was the last one asked for.
    assert client.receive_calls == 3


async def test_a_body_within_the_limit_reaches_the_app(limits):
    client = Recorder([b"x" * 500, b"y" * 500])
    scope = http_scope(headers=[(b"content-length", b"1000")])
    await BodyLimits(client.app)(scope, client.receive, client.send)
    assert client.status == 200
    assert client.app_body == b"x" * 500 + b"y" * 500


async def test_a_body_that_stalls_is_408_in_bounded_time(limits):
    client = Recorder([b"x" * 10], stall=True)  # then nothing
    scope = http_scope(headers=[(b"content-length", b"500")])
    started = time.monotonic()
    await asyncio.wait_for(BodyLimits(client.app)(scope, client.receive, client.send), 5)
    assert time.monotonic() - started < 2
    assert client.status == 408
    assert json.loads(client.body) == {"detail": "Request body not received in time."}


async def test_a_request_without_a_body_gets_the_servers_receive_untouched(limits):
    seen = []

    async def app(scope, receive, send):
        seen.append(receive)

    async def receive():
        raise AssertionError("not called")

    await BodyLimits(app)(http_scope(headers=[(b"host", b"x")]), receive, None)
    assert seen == [receive]


async def test_the_lifespan_passes_straight_through(limits):
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["type"], receive, send))

    async def receive():
        return {"type": "lifespan.startup"}

    async def send(message):
        pass

    await BodyLimits(app)({"type": "lifespan"}, receive, send)
    assert seen == [("lifespan", receive, send)]


# --- against a live server ----------------------------------------------------


def connect(base_url, timeout=5):
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


def read_response(sock):
    """The whole response, read until the server closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def head(path, *lines):
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "".join(f"{line}\r\n" for line in lines)
        + "\r\n"
    ).encode()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_live_a_declared_200_mb_is_413_before_a_byte_is_sent():
    with uvicorn_server() as base_url, connect(base_url) as sock:
        sock.sendall(head("/api/orders", f"Content-Length: {200 * 1024 * 1024}"))
        response = read_response(sock)  # the server answers and closes; 5 s at most
    assert status_of(response) == 413
    assert b"Request body too large" in response


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_live_a_declared_10_mb_with_10_bytes_sent_is_answered():
    with uvicorn_server() as base_url, connect(base_url) as sock:
        sock.sendall(head("/api/orders", f"Content-Length: {10 * 1024 * 1024}") + b"0123456789")
        response = read_response(sock)
    assert status_of(response) == 413


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_live_a_chunked_body_is_cut_at_the_limit_not_read_to_its_end(settings):
    """50 MB offered in chunks: the server answers 413 and closes long before
    the client is through (the kernel's socket buffers take a few MB)."""
    offered = 50 * 1024 * 1024
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with uvicorn_server() as base_url, connect(base_url, timeout=10) as sock:
        sock.sendall(head("/api/orders", "Transfer-Encoding: chunked"))
        try:
            while sent < offered:
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        response = read_response(sock)
    assert sent < offered / 2, f"the server read {sent} bytes"
    assert status_of(response) == 413


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_live_a_body_that_stops_coming_is_closed_in_bounded_time():
    with (
        uvicorn_server(extra_env={"DJANGO_BODY_TIMEOUT": "1"}) as base_url,
        connect(base_url, timeout=10) as sock,
    ):
        started = time.monotonic()
        sock.sendall(head("/api/orders", "Content-Length: 500") + b'{"items": ')
        response = read_response(sock)
        elapsed = time.monotonic() - started
    assert status_of(response) == 408
    assert elapsed < 5
