"""The handler's cookie-less lane (config/runtime/handler.py, point 6): API
requests without a Cookie header skip the session, CSRF, authentication and
messages middleware, and answer exactly as through the whole chain."""

import asyncio

import pytest
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse

from config.access.models import api_token_create
from config.runtime.handler import PooledThreadASGIHandler
from tests.catalog.factories import make_product
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db(transaction=True)

# Headers that differ between any two answers.
VOLATILE = {b"date", b"x-request-id", b"server-timing"}


async def request(
    handler, method: str, path: str, headers: list[tuple[bytes, bytes]] = (), body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    messages = []
    sent = False
    done = asyncio.Event()

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await handler(scope, receive, send)
    start = messages[0]
    content = b"".join(m.get("body", b"") for m in messages[1:])
    headers = {name.lower(): value for name, value in start["headers"]}
    return start["status"], headers, content


def stable(headers: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {name: value for name, value in headers.items() if name not in VOLATILE}


async def test_a_cookieless_api_answer_equals_the_whole_chains(settings):
    movie = await asyncio.to_thread(make_movie, "Lane Film")
    handler = PooledThreadASGIHandler(thread_count=1)
    lane = handler._cookieless
    taken = []
    through_lane = lane.get_response_async

    async def counting(request):
        taken.append(request.path)
        return await through_lane(request)

    lane.get_response_async = counting
    path = f"/api/movies/{movie.pk}"
    lane_status, lane_headers, lane_body = await request(handler, "GET", path)
    # Any cookie sends the request down the whole chain.
    full_status, full_headers, full_body = await request(
        handler, "GET", path, [(b"cookie", b"unrelated=1")]
    )
    assert taken == [path]  # the first request only
    assert lane_status == full_status == 200
    assert lane_body == full_body
    assert b"Lane Film" in lane_body
    assert stable(lane_headers) == stable(full_headers)
    assert lane_headers[b"x-content-type-options"] == b"nosniff"
    assert lane_headers[b"x-frame-options"] == b"DENY"
    assert b"set-cookie" not in lane_headers


def test_token_writes_work_in_the_lane(user):
    product = make_product(name="Lane Mug", stock=5)
    _, secret = api_token_create(user=user, name="lane")
    handler = PooledThreadASGIHandler(thread_count=1)
    body = f'{{"items": [{{"product_id": {product.pk}, "quantity": 2}}]}}'.encode()
    headers = [(b"authorization", f"Bearer {secret}".encode())]
    status, _, content = asyncio.run(
        request(
            handler,
            "POST",
            "/api/orders",
            [*headers, (b"content-type", b"application/json")],
            body,
        )
    )
    assert status == 201, content
    product.refresh_from_db()
    assert product.stock == 3


async def test_pages_keep_csrf_protection_without_cookies():
    handler = PooledThreadASGIHandler(thread_count=1)
    status, _, _ = await request(
        handler,
        "POST",
        "/accounts/login/",
        [(b"content-type", b"application/x-www-form-urlencoded")],
        b"username=a&password=b",
    )
    assert status == 403


async def test_the_lane_can_be_turned_off(settings):
    settings.RUNTIME_COOKIELESS_PREFIX = ""
    handler = PooledThreadASGIHandler(thread_count=1)
    assert handler._cookieless is None


async def test_the_lanes_session_is_made_only_for_a_view_that_reads_it(monkeypatch):
    handler = PooledThreadASGIHandler(thread_count=1)
    made = []

    def counting_store():
        made.append(1)
        return SessionStore()

    monkeypatch.setattr(handler, "_session_store", counting_store)
    status, _, _ = await request(handler, "GET", "/api/genres")
    assert status == 200
    assert made == []  # an API view that never reads the session

    seen = {}

    async def reading_view(request):
        seen["key"] = request.session.session_key
        seen["flavour"] = request.session.get("flavour")
        seen["is_session"] = isinstance(request.session, SessionBase)
        return HttpResponse("read")

    monkeypatch.setattr(handler._cookieless, "get_response_async", reading_view)
    status, _, body = await request(handler, "GET", "/api/genres")
    assert (status, body) == (200, b"read")
    assert made == [1]
    assert seen == {"key": None, "flavour": None, "is_session": True}
