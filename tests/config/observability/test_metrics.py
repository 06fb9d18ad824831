"""/metrics (config/observability/metrics.py): absent unless configured,
refused to others, Prometheus' text format counting requests by route and
status, gauges of pools, breaker and sync threads; one scrape covers every
worker of ``config.runtime.serve``."""

import os
import re
import time
import urllib.request
from urllib.error import HTTPError

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import AsyncConnectionPool

from config.observability import timing, watch_pool
from config.runtime.native_pool import QueuedAsyncConnectionPool
from tests.catalog.factories import make_product
from tests.config.observability.test_requests import build, http_client
from tests.live import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-for-tests-0123456789"


def samples(text, name):
    """{labels as a sorted tuple: value} of one sample name."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_of(text, route, status="200", method="GET"):
    labels = (("method", method), ("route", route), ("status", status))
    return samples(text, "reelshelf_http_requests_total").get(labels, 0)


@pytest.fixture
def quiet(settings):
    settings.API_THROTTLE_ANON = "off"


async def test_without_configuration_there_is_no_metrics_page(settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = ""
    async with http_client(build(settings)) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert "reelshelf" not in response.text


async def test_an_allowed_address_reads_the_counts_by_route_and_status(settings, quiet):
    settings.METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    settings.METRICS_TOKEN = ""
    await sync_to_async(make_product)()
    async with http_client(build(settings)) as client:
        before = (await client.get("/metrics")).text
        for _ in range(3):
            assert (await client.get("/api/products")).status_code == 200
        assert (await client.get("/api/products/424242")).status_code == 404
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = response.text
    assert requests_of(after, "/api/products") - requests_of(before, "/api/products") == 3
    detail = "/api/products/<product_id>"
    assert requests_of(after, detail, "404") - requests_of(before, detail, "404") == 1
    counts = samples(after, "reelshelf_http_request_duration_seconds_count")
    assert counts[(("route", "/api/products"),)] >= 3
    assert samples(after, "reelshelf_sync_backlog") == {(): 0.0}


async def test_others_are_refused(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    async with http_client(build(settings)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 403
    assert "reelshelf" not in response.text


async def test_the_address_checked_is_the_trusted_one(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    settings.METRICS_TOKEN = ""
    forged = {"X-Forwarded-For": "10.0.0.5"}
    settings.TRUSTED_PROXY_COUNT = 0
    async with http_client(build(settings)) as client:
        assert (await client.get("/metrics", headers=forged)).status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1
    async with http_client(build(settings)) as client:
        assert (await client.get("/metrics", headers=forged)).status_code == 200


async def test_a_token_opens_it_and_nothing_else_does(settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = TOKEN
    async with http_client(build(settings)) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200
    assert "reelshelf_http_requests_total" in right.text


class BusyPool:
    """What the sampler reads of a psycopg pool: its stats and its queues
    (psycopg's, and the native pool's in front of it)."""

    def __init__(self):
        self._waiting = [object()] * 3
        self.queued = 4

    def get_stats(self):
        return {"pool_min": 2, "pool_max": 10, "pool_size": 5, "pool_available": 1}


async def test_a_watched_pool_is_reported(settings):
    settings.METRICS_TOKEN = TOKEN
    watch_pool("native", "default", BusyPool())
    try:
        async with http_client(build(settings)) as client:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            text = (await client.get("/metrics", headers=auth)).text
    finally:
        timing.watched_pools.clear()
    labels = (("database", "default"), ("pool", "native"))
    assert samples(text, "reelshelf_db_pool_connections")[labels] == 5
    assert samples(text, "reelshelf_db_pool_in_use")[labels] == 4
    assert samples(text, "reelshelf_db_pool_waiting")[labels] == 7


def test_a_real_psycopg_pool_has_what_the_sampler_reads():
    pool = AsyncConnectionPool("", min_size=1, max_size=3, open=False)
    assert {"pool_size", "pool_available"} <= set(pool.get_stats())
    assert len(pool._waiting) == 0
    queued = QueuedAsyncConnectionPool("", min_size=1, max_size=3, open=False)
    assert queued.queued == 0


@pytest.mark.postgres
async def test_the_django_pool_and_the_breaker_are_reported(settings, quiet):
    if connection.vendor != "postgresql":
        pytest.skip("Django's connection pool exists on PostgreSQL only")
    settings.METRICS_TOKEN = TOKEN
    await sync_to_async(make_product)()
    async with http_client(build(settings)) as client:
        assert (await client.get("/products/")).status_code == 200  # a sync page: Django's pool
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    size = samples(text, "reelshelf_db_pool_connections")
    assert size[(("database", "default"), ("pool", "django"))] >= 1
    assert (("database", "default"), ("pool", "django")) in samples(
        text, "reelshelf_db_pool_in_use"
    )
    assert (
        samples(text, "reelshelf_db_pool_waiting")[(("database", "default"), ("pool", "django"))]
        == 0
    )
    if django_settings.DATABASES["default"]["ENGINE"] == "config.runtime.postgresql":
        assert samples(text, "reelshelf_db_failing_fast") == {(("database", "default"),): 0.0}


def get(url, headers=None):
    request = urllib.request.Request(url, headers={"Connection": "close", **(headers or {})})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read().decode()


@pytest.mark.live
def test_one_scrape_counts_the_requests_of_every_worker(tmp_path):
    make_product()
    extra_env = {"METRICS_TOKEN": TOKEN, "API_THROTTLE_ANON": "off"}
    if not django_settings.RUNTIME:
        # Plain uvicorn: the operator provides the directory (docs/operations.md).
        extra_env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    with uvicorn_server(workers=2, extra_env=extra_env) as url:
        prefixes = set()
        for _ in range(40):  # each on a new connection, spread over the workers
            status, headers, _ = get(f"{url}/api/products")
            assert status == 200
            prefixes.add(headers["x-request-id"].split("-")[0])
        assert len(prefixes) == 2, "both workers served"

        def scrape_total() -> float:
            status, _, text = get(f"{url}/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert status == 200
            return requests_of(text, "/api/products")

        # A worker counts a request once its handler returns, which may be
        # just after the client has the response: wait for the last one.
        deadline = time.monotonic() + 5
        while scrape_total() != 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        totals = set()
        for _ in range(4):  # whichever worker answers the scrape
            status, _, text = get(f"{url}/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert status == 200
            totals.add(requests_of(text, "/api/products"))
        assert totals == {40}
        with pytest.raises(HTTPError) as refused:
            get(f"{url}/metrics")
        assert refused.value.code == 401
        if django_settings.RUNTIME:
            backlog = samples(text, "reelshelf_sync_backlog")
            assert len({dict(labels)["pid"] for labels in backlog}) == 2
            assert all(re.fullmatch(r"\d+", dict(labels)["pid"]) for labels in backlog)


def test_serve_empties_an_operators_metrics_dir_and_forgets_dead_workers(tmp_path, monkeypatch):
    from config.runtime import serve

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"old run")
    (tmp_path / "keep.txt").write_text("not ours")
    assert serve.prepare_metrics_dir() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    for name in ("gauge_liveall_41.db", "gauge_liveall_42.db", "counter_41.db"):
        (tmp_path / name).write_bytes(b"")
    serve.forget_worker_metrics(41)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_41.db",  # a dead worker's counts stay in the totals
        "gauge_liveall_42.db",
        "keep.txt",
    ]


def test_serve_makes_a_metrics_dir_when_none_is_given(monkeypatch):
    from config.runtime import serve

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    made = serve.prepare_metrics_dir()
    try:
        assert made is not None
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == made
        assert os.listdir(made) == []
    finally:
        os.rmdir(made)
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
