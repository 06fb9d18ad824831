"""A database that cannot be reached is a 503 that says so, never a 500 or a
traceback: JSON under /api/, a plain page elsewhere. (test_outage.py does it
for real against a PostgreSQL server it stops.)"""

import psycopg_pool
import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db

ERRORS = [
    OperationalError("connection refused"),
    psycopg_pool.PoolTimeout("couldn't get a connection after 2.00 sec"),
]


@pytest.fixture(params=ERRORS, ids=["operational-error", "pool-timeout"])
def database_down(request, monkeypatch):
    def fail(*args, **kwargs):
        raise request.param

    monkeypatch.setattr("catalog.selectors.product_list", fail)
    return request.param


def test_api_call_is_503_json(client, database_down):
    response = client.get("/api/products")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "database unavailable"}
    assert response["Retry-After"] == "5"


def test_page_is_a_plain_503_page(client, database_down):
    client.raise_request_exception = False
    response = client.get("/products/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "Temporarily unavailable" in text
    assert "Traceback" not in text and "connection" not in text.lower().split("<main")[0]
    assert "Content-Security-Policy" in response


def test_throttle_store_down_is_503_json_too(client, monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("connection refused")

    async def afail(*args, **kwargs):
        fail()

    monkeypatch.setattr("config.access.ratelimit.hit", fail)
    monkeypatch.setattr("config.access.ratelimit.ahit", afail)
    response = client.get("/api/products")
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}


def test_other_page_errors_stay_500_without_a_traceback(client, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("catalog.selectors.product_list", fail)
    client.raise_request_exception = False
    response = client.get("/products/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"secret internals" not in response.content


def test_bad_host_under_the_api_is_json_400(client):
    response = client.get("/api/products", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}
