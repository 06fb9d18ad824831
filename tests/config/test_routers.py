"""The replica router's decisions (config/routers.py), one at a time; the
real streaming replica is in test_replicas.py."""

import json
import time

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from catalog.models import Product
from config import routers
from tests.config.test_settings import run_python

REPLICAS = ["replica1", "replica2"]


@pytest.fixture
def replicas(settings):
    settings.DATABASE_REPLICAS = REPLICAS
    settings.REPLICA_READ_AFTER_WRITE_SECONDS = 5.0


def run(request, view):
    """``view``'s answer through the middleware, and the alias it read from."""
    seen = {}

    def get_response(request):
        seen["alias"] = routers.read_alias(Product)
        return view(request)

    response = routers.ReadAfterWriteMiddleware(get_response)(request)
    return response, seen["alias"]


def reader(request):
    return HttpResponse("read")


def writer(request):
    routers.PrimaryReplicaRouter().db_for_write(Product)
    assert routers.read_alias(Product) == routers.PRIMARY  # the rest of this request
    return HttpResponse("wrote")


def test_without_replicas_everything_is_the_primary():
    router = routers.PrimaryReplicaRouter()
    assert router.db_for_read(Product) == "default"
    assert router.db_for_write(Product) == "default"


@pytest.mark.django_db(transaction=True)
def test_reads_go_to_a_replica_but_not_inside_a_transaction(replicas):
    assert routers.read_alias(Product) in REPLICAS
    with transaction.atomic():
        assert routers.read_alias(Product) == "default"
    router = routers.PrimaryReplicaRouter()
    assert router.allow_migrate("default", "catalog") is True
    assert router.allow_migrate("replica1", "catalog") is False


def test_a_request_reads_one_replica_throughout(replicas):
    seen = set()

    def many_reads(request):
        for _ in range(20):
            seen.add(routers.read_alias(Product))
        return HttpResponse()

    run(RequestFactory().get("/"), many_reads)
    assert len(seen) == 1 and seen <= set(REPLICAS)


def test_a_write_pins_the_client_by_cookie(replicas):
    response, _ = run(RequestFactory().post("/"), writer)
    cookie = response.cookies[routers.COOKIE]
    assert cookie["httponly"] and cookie["max-age"] == 5
    until = float(cookie.value)
    assert time.time() < until <= time.time() + 5.01

    pinned = RequestFactory().get("/")
    pinned.COOKIES[routers.COOKIE] = cookie.value
    response, alias = run(pinned, reader)
    assert alias == "default"
    assert routers.COOKIE not in response.cookies  # a read does not extend the pin
    # Without the cookie, the replica.
    assert run(RequestFactory().get("/"), reader)[1] in REPLICAS


@pytest.mark.parametrize("value", ["", "nonsense", "0", str(time.time() + 3600)])
def test_a_stale_forged_or_far_future_cookie_pins_nothing(replicas, value):
    request = RequestFactory().get("/")
    request.COOKIES[routers.COOKIE] = value
    assert run(request, reader)[1] in REPLICAS


def test_a_write_pins_a_bearer_token_without_cookies(replicas):
    headers = {"Authorization": "Bearer rs_some-token"}
    run(RequestFactory().post("/", headers=headers), writer)
    assert run(RequestFactory().get("/", headers=headers), reader)[1] == "default"
    other = {"Authorization": "Bearer rs_another-token"}
    assert run(RequestFactory().get("/", headers=other), reader)[1] in REPLICAS


def test_the_pin_ends_after_the_configured_time(replicas, settings):
    settings.REPLICA_READ_AFTER_WRITE_SECONDS = 0.2
    headers = {"Authorization": "Bearer rs_short-pin"}
    response, _ = run(RequestFactory().post("/", headers=headers), writer)
    time.sleep(0.3)
    request = RequestFactory().get("/", headers=headers)
    request.COOKIES[routers.COOKIE] = response.cookies[routers.COOKIE].value
    assert run(request, reader)[1] in REPLICAS


async def test_the_async_path_pins_too(replicas):
    async def awriter(request):
        routers.mark_write()
        return HttpResponse()

    async def areader(request):
        return HttpResponse(routers.read_alias(Product))

    headers = {"Authorization": "Bearer rs_async-token"}
    response = await routers.ReadAfterWriteMiddleware(awriter)(
        RequestFactory().post("/", headers=headers)
    )
    assert routers.COOKIE in response.cookies
    response = await routers.ReadAfterWriteMiddleware(areader)(
        RequestFactory().get("/", headers=headers)
    )
    assert response.content == b"default"


PRINT_DATABASES = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps([settings.DATABASES, settings.DATABASE_ROUTERS, settings.MIDDLEWARE],"
    " default=str))"
)


def test_replica_urls_make_one_alias_each_configured_as_the_primary():
    result = run_python(
        PRINT_DATABASES,
        DJANGO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://app@primary.example:5432/shop",
        DATABASE_REPLICA_URLS="postgres://app@replica-a.example/shop, postgres://ro@replica-b.example:6432/shop",
        DB_POOL_MAX_SIZE="7",
    )
    assert result.returncode == 0, result.stderr
    databases, database_routers, middleware = json.loads(result.stdout)
    assert list(databases) == ["default", "replica1", "replica2"]
    first, second = databases["replica1"], databases["replica2"]
    assert (first["HOST"], first["USER"], first["NAME"]) == ("replica-a.example", "app", "shop")
    assert (second["HOST"], second["PORT"], second["USER"]) == ("replica-b.example", 6432, "ro")
    for replica in (first, second):
        assert replica["ENGINE"] == databases["default"]["ENGINE"]
        assert replica["OPTIONS"]["pool"]["max_size"] == 7
        assert replica["TEST"]["MIRROR"] == "default"
    assert database_routers == ["config.routers.PrimaryReplicaRouter"]
    assert middleware.index("config.routers.ReadAfterWriteMiddleware") < middleware.index(
        "config.access.middleware.ApiThrottleMiddleware"
    )

    result = run_python(PRINT_DATABASES, DJANGO_SECRET_KEY="x" * 50)
    databases, database_routers, middleware = json.loads(result.stdout)
    assert list(databases) == ["default"]
    assert database_routers == []
    assert "config.routers.ReadAfterWriteMiddleware" not in middleware
