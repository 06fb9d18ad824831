"""Observing requests (config/observability/): one access line per request,
a request id in the response and in every log line written while serving it,
Server-Timing on the API. Against the ASGI application as config/asgi.py
builds it, served in process."""

import json
import logging
import re
from datetime import UTC, datetime

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.access.body_limits import BodyLimits
from config.observability import logs, record_query
from config.observability.middleware import observe
from config.runtime import native_db
from config.runtime.handler import PooledThreadASGIHandler
from tests.catalog.factories import make_product
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db(transaction=True)

ACCESS = "config.observability.access"
CLIENT = ("203.0.113.7", 50000)


def build(settings):
    """The application as config/asgi.py builds it, from the current settings."""
    handler = PooledThreadASGIHandler() if settings.RUNTIME_HANDLER else ASGIHandler()
    return observe(BodyLimits(handler), sync_backlog=getattr(handler, "sync_backlog", None))


def http_client(app, client=CLIENT):
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def logged(caplog):
    """caplog, with the request id stamped as LOGGING's handlers stamp it."""
    stamp = logs.RequestIdFilter()
    caplog.handler.addFilter(stamp)
    caplog.set_level(logging.INFO)
    yield caplog
    caplog.handler.removeFilter(stamp)


@pytest.fixture
def quiet(settings):
    settings.API_THROTTLE_ANON = "off"  # count the view's queries, not the throttle's


def access_lines(caplog):
    return [record for record in caplog.records if record.name == ACCESS]


async def test_an_async_api_request_gets_one_access_line_with_its_id(settings, logged, quiet):
    await sync_to_async(make_movie)("Access Logged")
    async with http_client(build(settings)) as client:
        response = await client.get("/api/movies", params={"limit": 2, "q": "Access"})
    assert response.status_code == 200
    (line,) = access_lines(logged)
    request_id = response.headers["x-request-id"]
    assert line.request_id == request_id
    assert line.http == {
        "method": "GET",
        "path": "/api/movies?limit=2&q=Access",
        "status": 200,
        "bytes": len(response.content),
        "duration_ms": line.http["duration_ms"],
        "client": "203.0.113.7",
    }
    assert line.http["duration_ms"] > 0
    assert line.getMessage().startswith('"GET /api/movies?limit=2&q=Access" 200 ')


async def test_a_sync_page_gets_its_access_line_and_the_log_lines_of_serving_it(
    settings, logged, quiet
):
    await sync_to_async(make_movie)("Page Logged")
    async with http_client(build(settings)) as client:
        page = await client.get("/movies/")
        missing = await client.get("/movies/no-such-film/")
    assert page.status_code == 200
    assert missing.status_code == 404
    lines = access_lines(logged)
    assert [(line.http["path"], line.http["status"]) for line in lines] == [
        ("/movies/", 200),
        ("/movies/no-such-film/", 404),
    ]
    assert lines[0].http["bytes"] == len(page.content)
    assert lines[0].request_id == page.headers["x-request-id"]
    assert lines[1].request_id == missing.headers["x-request-id"]
    assert page.headers["x-request-id"] != missing.headers["x-request-id"]
    # Django's own "Not Found" warning, written while serving the 404.
    (warning,) = [r for r in logged.records if r.name == "django.request"]
    assert warning.request_id == missing.headers["x-request-id"]


async def test_the_id_follows_the_request_into_sync_code_and_stays_out_of_others(logged):
    async def inner(scope, receive, send):
        logging.getLogger("tests.loop").warning("on the loop")
        await sync_to_async(logging.getLogger("tests.thread").warning)("on a sync thread")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with http_client(observe(inner)) as client:
        response = await client.get("/somewhere")
    logging.getLogger("tests.after").warning("after the request")
    request_id = response.headers["x-request-id"]
    ids = {r.name: r.request_id for r in logged.records if r.name.startswith(("tests.", ACCESS))}
    assert ids == {
        "tests.loop": request_id,
        "tests.thread": request_id,
        ACCESS: request_id,
        "tests.after": "-",
    }


@pytest.mark.parametrize("proxies", [0, 1])
async def test_x_request_id_is_taken_only_from_a_declared_proxy(settings, logged, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies
    async with http_client(build(settings)) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "edge-1234.abc"})
    assert response.status_code == 200
    (line,) = access_lines(logged)
    if proxies:
        assert response.headers["x-request-id"] == "edge-1234.abc"
    else:
        assert response.headers["x-request-id"] != "edge-1234.abc"
    assert line.request_id == response.headers["x-request-id"]


async def test_a_proxy_s_request_id_that_is_not_plain_is_replaced(settings, logged):
    settings.TRUSTED_PROXY_COUNT = 1
    async with http_client(build(settings)) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": "x" * 129})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+", response.headers["x-request-id"])


async def test_the_client_address_is_the_trusted_one(settings, logged):
    headers = {"X-Forwarded-For": "198.51.100.9, 192.0.2.1"}
    settings.TRUSTED_PROXY_COUNT = 0
    async with http_client(build(settings)) as client:
        await client.get("/healthz", headers=headers)
    settings.TRUSTED_PROXY_COUNT = 1
    async with http_client(build(settings)) as client:
        await client.get("/healthz", headers=headers)
    assert [line.http["client"] for line in access_lines(logged)] == ["203.0.113.7", "192.0.2.1"]


async def test_secrets_in_the_query_string_are_redacted(settings, logged):
    async with http_client(build(settings)) as client:
        await client.get("/healthz", params={"token": "rs_abcdefghijklmnopqrstuv", "page": "2"})
    (line,) = access_lines(logged)
    assert "rs_abcdefghijklmnopqrstuv" not in line.getMessage()
    assert "rs_abcdefghijklmnopqrstuv" not in line.http["path"]
    assert line.http["path"].startswith("/healthz?token=[REDACTED]")


async def test_a_body_refused_before_django_is_logged_too(settings, logged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    async with http_client(build(settings)) as client:
        response = await client.post("/api/orders", content=b"x" * 100)
    assert response.status_code == 413
    (line,) = access_lines(logged)
    assert (line.http["method"], line.http["status"]) == ("POST", 413)


async def test_access_log_off(settings, logged):
    settings.ACCESS_LOG = False
    async with http_client(build(settings)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert access_lines(logged) == []
    assert "x-request-id" in response.headers


async def test_observability_off_leaves_the_application_unwrapped(settings, logged):
    settings.OBSERVABILITY = False
    async with http_client(build(settings)) as client:
        response = await client.get("/api/products")
    assert response.status_code == 200
    assert "x-request-id" not in response.headers
    assert "server-timing" not in response.headers
    assert access_lines(logged) == []


def server_timing(response):
    match = re.fullmatch(
        r'db;dur=(\d+\.\d\d);desc="(\d+) queries"', response.headers["server-timing"]
    )
    assert match, response.headers["server-timing"]
    return float(match[1]), int(match[2])


async def test_api_responses_carry_the_database_time_and_query_count(settings, quiet):
    for _ in range(3):
        await sync_to_async(make_product)()

    def queries_of_the_same_request():
        # The ORM's queries, and the native reads' statements, which no
        # Django connection runs (config.runtime.native_db).
        native: list[int] = []

        def observer(seconds: float, count: int) -> None:
            native.append(count)

        native_db.query_observers.append(observer)
        try:
            with CaptureQueriesContext(connection) as queries:
                assert Client().get("/api/products", {"limit": 2}).status_code == 200
        finally:
            native_db.query_observers.remove(observer)
        return len(queries) + sum(native)

    expected = await sync_to_async(queries_of_the_same_request)()
    async with http_client(build(settings)) as client:
        response = await client.get("/api/products", params={"limit": 2})
        page = await client.get("/products/")
    assert response.status_code == 200
    milliseconds, count = server_timing(response)
    assert count == expected >= 1
    assert milliseconds > 0
    # Pages do not tell the world about their database.
    assert page.status_code == 200
    assert "server-timing" not in page.headers


async def test_an_api_response_without_queries_says_so(settings, quiet):
    async with http_client(build(settings)) as client:
        response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    assert server_timing(response) == (0.0, 0)


def test_json_lines_carry_the_fields_and_the_id():
    formatter = logs.JsonFormatter()
    record = logging.LogRecord(ACCESS, logging.INFO, "", 0, '"%s %s" %s', ("GET", "/x", 200), None)
    record.request_id = "abc-1"
    record.http = {"method": "GET", "path": "/x", "status": 200}
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == '"GET /x" 200'
    assert entry["request_id"] == "abc-1"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/x", 200)
    assert entry["level"] == "INFO"
    assert entry["logger"] == ACCESS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    moment = datetime.fromtimestamp(record.created, UTC)
    assert entry["time"][:19] == moment.strftime("%Y-%m-%dT%H:%M:%S")
    assert int(entry["time"][20:23]) == int(record.msecs)


def test_a_traceback_goes_into_the_json_line_redacted():
    from config.access.log_filters import RedactSecretsFilter

    try:
        raise ValueError("Authorization: Bearer rs_abcdefghijklmnopqrstuv")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, "", 0, "failed", None, __import__("sys").exc_info()
        )
    RedactSecretsFilter().filter(record)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert "ValueError" in entry["exception"]
    assert "rs_abcdefghijklmnopqrstuv" not in entry["exception"]


async def test_database_work_outside_the_orm_is_counted_through_record_query():
    async def inner(scope, receive, send):
        record_query(0.004, count=2)  # as the native reads do, one round trip
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async with http_client(observe(inner)) as client:
        response = await client.get("/api/native")
    assert server_timing(response) == (4.0, 2)
    record_query(1.0)  # outside a request: counted nowhere, and no error
