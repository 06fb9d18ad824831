"""Abuse limits as a client meets them: API throttling (429 + Retry-After),
bounded bodies, query strings and page sizes, throttled failed logins and a
staff-only admin.

The API tests go through Django's async client, so the whole async path runs
on an event loop: a synchronous database call there would raise
``SynchronousOnlyOperation`` and answer 500, so these passing also shows the
throttle never touches the database from the loop."""

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import AsyncClient, Client

from config.access.models import RateCounter, api_token_create
from config.access.ratelimit import Rate
from config.runtime import native_db
from tests.live import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

ANON_READ = "/api/categories"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_from(address: str) -> AsyncClient:
    """An async client whose requests come from ``address``: the ASGI scope's
    client, which uvicorn fills from the socket and Django turns into
    REMOTE_ADDR."""
    client = AsyncClient()
    base_scope = client._base_scope
    client._base_scope = lambda **request: {**base_scope(**request), "client": [address, 40000]}
    return client


def assert_throttled(response):
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "Too many requests" in response.json()["detail"]
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60


async def test_anonymous_reads_are_limited_per_client_address(settings):
    settings.API_THROTTLE_ANON = "3/min"
    first, second = client_from("10.0.0.1"), client_from("10.0.0.2")
    for _ in range(3):
        assert (await first.get(ANON_READ)).status_code == 200
    assert_throttled(await first.get(ANON_READ))
    assert_throttled(await first.get("/api/products"))
    # Someone else is not held back by it.
    assert (await second.get(ANON_READ)).status_code == 200


async def test_invented_tokens_do_not_buy_fresh_limits(async_client, settings):
    settings.API_THROTTLE_ANON = "3/min"
    statuses = [
        (
            await async_client.get(ANON_READ, headers={"Authorization": f"Bearer rs_made-up-{i}"})
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


async def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(async_client, settings):
    settings.API_THROTTLE_ANON = "2/min"
    statuses = [
        (await async_client.get(ANON_READ, headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]

    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(3):
        response = await async_client.get(
            ANON_READ, headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.{i}"}
        )
        assert response.status_code == 200  # each client its own bucket


async def test_token_calls_are_limited_per_token(async_client, settings, user, user_token):
    settings.API_THROTTLE_TOKEN = "3/min"
    settings.API_THROTTLE_ANON = "100/min"
    headers = {"Authorization": f"Bearer {user_token}"}
    for _ in range(3):
        assert (await async_client.get("/api/orders", headers=headers)).status_code == 200
    assert_throttled(await async_client.get("/api/orders", headers=headers))
    # The limit is the token's, not the address's: other tokens and anonymous
    # readers on the same address go on.
    _, other = await api_token_create_async(user)
    other_headers = {"Authorization": f"Bearer {other}"}
    assert (await async_client.get("/api/orders", headers=other_headers)).status_code == 200
    assert (await async_client.get(ANON_READ)).status_code == 200


async def test_writes_have_their_own_lower_limit(async_client, settings, user_token):
    settings.API_THROTTLE_WRITE = "2/min"
    headers = {"Authorization": f"Bearer {user_token}"}
    for _ in range(2):
        response = await async_client.post(
            "/api/orders", data={"items": []}, content_type="application/json", headers=headers
        )
        assert response.status_code == 422
    assert_throttled(
        await async_client.post(
            "/api/orders", data={"items": []}, content_type="application/json", headers=headers
        )
    )
    # Reads with the same token are not writes.
    assert (await async_client.get("/api/orders", headers=headers)).status_code == 200


async def test_a_read_is_counted_in_its_page_s_round_trip_and_refused_after_it(
    settings, monkeypatch
):
    """On PostgreSQL's native reads the hit is the last statement of the
    page's own round trip; the read that goes over the limit is refused
    once its page is read, the next ones before any is."""
    if not native_db.native_enabled():
        pytest.skip("reads are counted along with the page on PostgreSQL's native reads only")
    settings.API_THROTTLE_ANON = "2/min"
    round_trips: list[int] = []
    monkeypatch.setattr(
        native_db, "query_observers", [lambda seconds, statements: round_trips.append(statements)]
    )
    client = client_from("10.0.0.9")
    responses = [await client.get("/api/movies") for _ in range(4)]
    assert [response.status_code for response in responses[:2]] == [200, 200]
    assert_throttled(responses[2])
    assert_throttled(responses[3])
    # Version stamps, rows, count and hit; the last read's hit alone.
    assert round_trips == [4, 4, 4, 1]
    assert [counter.count async for counter in RateCounter.objects.all()] == [4]


async def test_concurrent_reads_of_one_client_are_each_counted_once_in_fewer_round_trips(
    settings, monkeypatch
):
    """While one read's hit rides along with its page, the same client's other
    reads are counted in a batch, one upsert for all the hits waiting: every
    hit is counted, and exactly the limit gets through."""
    if not native_db.native_enabled():
        pytest.skip("reads are counted along with the page on PostgreSQL's native reads only")
    settings.API_THROTTLE_ANON = "25/min"
    statements: list[str] = []
    execute = native_db.execute

    async def recording_execute(sql, params=(), **kwargs):
        statements.append(sql)
        return await execute(sql, params, **kwargs)

    monkeypatch.setattr(native_db, "execute", recording_execute)
    client = client_from("10.0.0.10")
    responses = await asyncio.gather(*(client.get("/api/movies") for _ in range(40)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 25 + [429] * 15
    assert [counter.count async for counter in RateCounter.objects.all()] == [40]
    upserts = [sql for sql in statements if sql.startswith("INSERT")]
    assert 1 <= len(upserts) < 39  # batched: fewer upserts than hits off the page


async def test_limits_can_be_turned_off(async_client, settings):
    settings.API_THROTTLE_ANON = "off"
    for _ in range(5):
        assert (await async_client.get(ANON_READ)).status_code == 200


async def api_token_create_async(user):
    from asgiref.sync import sync_to_async

    return await sync_to_async(api_token_create)(user=user)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/min", Rate(120, 60)),
        ("5/15min", Rate(5, 900)),
        ("10/s", Rate(10, 1)),
        ("1000/hour", Rate(1000, 3600)),
        ("3/minutes", Rate(3, 180 // 3)),
        ("off", None),
        ("", None),
    ],
)
def test_rates_are_read_from_settings_text(text, rate):
    assert Rate.parse(text) == rate


def test_a_mistyped_rate_stops_management_commands(settings):
    settings.API_THROTTLE_WRITE = "60 per minute"
    with pytest.raises(SystemCheckError, match="API_THROTTLE_WRITE"):
        call_command("check")


# --- bounded input -------------------------------------------------------


async def test_overlong_query_string_is_414_json_under_the_api(async_client, settings):
    response = await async_client.get(ANON_READ, {"q": "x" * settings.MAX_QUERY_STRING_LENGTH})
    assert response.status_code == 414
    assert "Query string too long" in response.json()["detail"]


def test_overlong_query_string_is_414_on_pages_too(client, settings):
    response = client.get("/movies/", {"q": "x" * settings.MAX_QUERY_STRING_LENGTH})
    assert response.status_code == 414
    assert response["Content-Type"].startswith("text/plain")


async def test_oversized_body_is_413_json_before_it_is_read(async_client, settings, user_token):
    body = '{"items": [' + ",".join(['{"product_id": 1, "quantity": 1}'] * 10000) + "]}"
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = await async_client.post(
        "/api/orders",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {user_token}"},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


async def test_too_many_query_fields_is_413_json(async_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    query = "&".join(f"q{i}=1" for i in range(60))
    response = await async_client.get(f"/api/products?{query}")
    assert response.status_code == 413
    assert "Too many fields" in response.json()["detail"]


async def test_page_size_over_the_maximum_is_422(async_client, settings):
    response = await async_client.get(ANON_READ, {"limit": settings.API_MAX_PAGE_SIZE + 1})
    assert response.status_code == 422
    assert (await async_client.get(ANON_READ, {"limit": 100})).status_code == 200


# --- logins and the admin ----------------------------------------------------


def login(client: Client, path: str, password: str, address: str = "127.0.0.1", username="alice"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_failed_logins_are_throttled_per_user_and_address(settings, staff_user, user, path):
    settings.LOGIN_THROTTLE = "5/15min"
    username = "staff" if path.startswith("/admin/") else "alice"
    client = Client()
    for _ in range(5):
        response = login(client, path, "wrong-password", username=username)
        assert response.status_code == 200
        assert b"correct username and password" in response.content
    # Now even the right password is refused, until the window ends.
    response = login(client, path, "correct-horse-battery", username=username)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 900
    text = response.content.decode()
    assert "Too many failed attempts, try again in" in text
    assert "minute" in text
    assert "_auth_user_id" not in client.session
    # The owner, elsewhere, is not locked out.
    other = Client()
    response = login(other, path, "correct-horse-battery", address="10.9.8.7", username=username)
    assert response.status_code == 302
    assert "_auth_user_id" in other.session


def test_a_successful_login_clears_the_failures(settings, user):
    settings.LOGIN_THROTTLE = "3/15min"
    client = Client()
    for _ in range(2):
        login(client, "/accounts/login/", "wrong-password")
    assert login(client, "/accounts/login/", "correct-horse-battery").status_code == 302
    client.logout()
    for _ in range(2):
        assert login(client, "/accounts/login/", "wrong-password").status_code == 200
    assert login(client, "/accounts/login/", "correct-horse-battery").status_code == 302


def test_the_admin_is_for_staff_only(user, staff_user):
    client = Client()
    response = login(client, "/admin/login/", "correct-horse-battery", username="alice")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


# --- across processes, through uvicorn ----------------------------------------


def fetch_status(url: str, **kwargs) -> int:
    request = urllib.request.Request(url, **kwargs)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.live
def test_a_limit_holds_across_worker_processes_under_a_concurrent_burst():
    """Two uvicorn workers, 24 requests at once from one address, a limit of
    5: exactly 5 get through. A per-process store would let up to 10 through,
    a get-then-set counter more under this concurrency."""
    with (
        uvicorn_server(workers=2, extra_env={"API_THROTTLE_ANON": "5/min"}) as base_url,
        ThreadPoolExecutor(max_workers=12) as pool,
    ):
        statuses = list(pool.map(lambda _: fetch_status(base_url + ANON_READ), range(24)))
    assert statuses.count(200) == 5, statuses
    assert statuses.count(429) == 19, statuses


@pytest.mark.live
def test_a_chunked_oversized_body_is_413_json(user_token):
    """No Content-Length to refuse early: the body is bounded when read."""
    with uvicorn_server() as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        chunk = b'{"product_id": 1, "quantity": 1},' * 1000
        connection.request(
            "POST",
            "/api/orders",
            body=iter([b'{"items": ['] + [chunk] * 10 + [b'{"product_id": 1, "quantity": 1}]}']),
            headers={
                "Authorization": f"Bearer {user_token}",
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
    assert response.status == 413
    assert "too large" in body["detail"]


def test_the_throttle_works_on_the_sync_path_too(settings):
    """Under WSGI (gunicorn) the middleware runs synchronously."""
    from django.http import JsonResponse
    from django.test import RequestFactory

    from config.access.middleware import ApiThrottleMiddleware

    settings.API_THROTTLE_ANON = "2/min"
    middleware = ApiThrottleMiddleware(lambda request: JsonResponse({}))
    assert not middleware.async_mode
    statuses = [
        middleware(RequestFactory().get(ANON_READ, REMOTE_ADDR="10.1.1.1")).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
