"""CORS for the API (CORS_ALLOWED_ORIGINS): a listed origin's browser may
call /api/ with a bearer token; preflights are answered before the limits and
never counted; anything else gets no CORS headers at all."""

import json

import pytest

from tests.config.test_settings import run_python

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://app.example"
CORS = "corsheaders.middleware.CorsMiddleware"


@pytest.fixture
def cors_on(settings):
    """What config/settings.py does with CORS_ALLOWED_ORIGINS set (checked
    against the real settings by the last test)."""
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("config.access.middleware.RequestLimitsMiddleware"), CORS)
    settings.MIDDLEWARE = middleware


def preflight(client, origin=ORIGIN, path="/api/orders"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


async def test_a_listed_origin_gets_its_preflight_answered(cors_on, async_client):
    response = await preflight(async_client)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(response["Access-Control-Max-Age"]) > 0
    # Never cookies across origins: such callers use a bearer token.
    assert "Access-Control-Allow-Credentials" not in response


async def test_reads_carry_the_origin_and_vary_on_it(cors_on, async_client):
    response = await async_client.get("/api/categories", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "origin" in response["Vary"].lower()


async def test_other_origins_get_no_cors_headers(cors_on, async_client):
    response = await preflight(async_client, origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response
    response = await async_client.get("/api/categories", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


async def test_pages_are_not_cors_enabled(cors_on, async_client):
    response = await async_client.get("/healthz", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response


async def test_preflights_are_never_counted_by_the_rate_limits(cors_on, async_client, settings):
    settings.API_THROTTLE_ANON = "2/hour"
    for _ in range(5):
        assert (await preflight(async_client, path="/api/categories")).status_code == 200
    statuses = [(await async_client.get("/api/categories")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # A refusal still carries the origin, so the caller's script can read it.
    refused = await async_client.get("/api/categories", headers={"Origin": ORIGIN})
    assert refused.status_code == 429
    assert refused["Access-Control-Allow-Origin"] == ORIGIN


async def test_without_origins_there_is_no_cors(async_client):
    response = await preflight(async_client)
    assert "Access-Control-Allow-Origin" not in response
    response = await async_client.get("/api/categories", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response


PRINT_CORS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps([settings.MIDDLEWARE, settings.CORS_ALLOWED_ORIGINS,"
    " settings.CORS_ALLOW_CREDENTIALS]))"
)


def test_settings_place_cors_before_the_limits_only_when_origins_are_set():
    result = run_python(
        PRINT_CORS,
        DJANGO_SECRET_KEY="x" * 50,
        CORS_ALLOWED_ORIGINS=f"{ORIGIN}, http://localhost:3000",
    )
    assert result.returncode == 0, result.stderr
    middleware, origins, credentials = json.loads(result.stdout)
    assert origins == [ORIGIN, "http://localhost:3000"]
    assert credentials is False
    assert middleware.index(CORS) < middleware.index(
        "config.access.middleware.RequestLimitsMiddleware"
    )
    assert middleware.index(CORS) < middleware.index(
        "config.access.middleware.ApiThrottleMiddleware"
    )

    result = run_python(PRINT_CORS, DJANGO_SECRET_KEY="x" * 50)
    assert CORS not in json.loads(result.stdout)[0]


def test_a_wildcard_origin_is_refused_at_start_up():
    result = run_python(
        "import django; from django.core.management import call_command; django.setup(); "
        "call_command('check')",
        DJANGO_SECRET_KEY="x" * 50,
        CORS_ALLOWED_ORIGINS="*",
    )
    assert result.returncode != 0
    assert "corsheaders.E013" in result.stderr
