"""A client that goes away mid-request has its request cancelled by the
production ASGI handler, as by Django's; a request answered sooner never
listens for it. This module is also the URLconf of its tests."""

import asyncio

import pytest
from django.core import signals
from django.http import HttpResponse
from django.urls import path

from config.runtime import handler as runtime_handler
from config.runtime.handler import PooledThreadASGIHandler

view_events: list[str] = []


async def slow_view(request):
    view_events.append("started")
    try:
        await asyncio.sleep(float(request.GET["seconds"]))
    except asyncio.CancelledError:
        view_events.append("cancelled")
        raise
    view_events.append("answered")
    return HttpResponse("answered")


urlpatterns = [path("slow/", slow_view)]


@pytest.fixture
def handler(settings, monkeypatch):
    settings.ROOT_URLCONF = __name__
    monkeypatch.setattr(runtime_handler, "DISCONNECT_WATCH_AFTER", 0.05)
    view_events.clear()
    return PooledThreadASGIHandler(thread_count=1)


@pytest.fixture
def finished_requests():
    finished: list[bool] = []

    def receiver(**kwargs):
        finished.append(True)

    signals.request_finished.connect(receiver)
    yield finished
    signals.request_finished.disconnect(receiver)


def scope_of(seconds: float) -> dict:
    query = f"seconds={seconds}".encode()
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/slow/",
        "raw_path": b"/slow/",
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }


async def serve(handler, seconds: float, client_leaves: bool):
    """One request; after its body, ``receive`` answers ``http.disconnect``
    at once if the client leaves, and never otherwise. Returns the messages
    sent and how many times ``receive`` was called."""
    messages: list[dict] = []
    received = 0

    async def receive():
        nonlocal received
        received += 1
        if received == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        if client_leaves:
            return {"type": "http.disconnect"}
        return await asyncio.Future()  # the client stays

    async def send(message):
        messages.append(message)

    await asyncio.wait_for(handler(scope_of(seconds), receive, send), timeout=10)
    return messages, received


async def test_a_request_whose_client_goes_away_is_cancelled(handler, finished_requests):
    messages, _ = await serve(handler, seconds=30, client_leaves=True)
    assert view_events == ["started", "cancelled"]
    assert messages == []  # nothing is sent to a client that has gone
    assert finished_requests == [True]


async def test_a_long_request_whose_client_stays_is_answered(handler, finished_requests):
    messages, received = await serve(handler, seconds=0.2, client_leaves=False)
    assert view_events == ["started", "answered"]
    assert messages[0]["status"] == 200
    assert messages[-1]["body"] == b"answered"
    assert received == 2  # the body, then the listener that started after 50 ms
    assert finished_requests == [True]


async def test_a_quick_request_never_listens_for_its_client(handler, finished_requests):
    messages, received = await serve(handler, seconds=0, client_leaves=True)
    assert view_events == ["started", "answered"]
    assert messages[0]["status"] == 200
    assert received == 1  # the body only
    assert finished_requests == [True]


async def test_a_message_other_than_a_disconnect_is_an_error(handler):
    async def receive():
        if not view_events:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": b"more", "more_body": False}

    async def send(message):
        pass

    with pytest.raises(AssertionError, match="Invalid ASGI message after request body"):
        await asyncio.wait_for(handler(scope_of(30), receive, send), timeout=10)
    assert view_events == ["started", "cancelled"]
