"""Forwarded headers count only when the operator declared a proxy
(``TRUSTED_PROXY_COUNT`` > 0): against a live server, a client forging
``X-Forwarded-For`` gets no fresh rate limit, and one forging
``X-Forwarded-Proto: https`` over plain HTTP is not treated as secure."""

import http.client
import itertools

import pytest

from tests.live import uvicorn_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ANON_READ = "/api/categories"


def get(base_url: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def forged_addresses():
    for i in itertools.count(1):
        yield f"203.0.113.{i}"


def statuses_with_invented_addresses(base_url: str, count: int) -> list[int]:
    addresses = forged_addresses()
    return [
        get(base_url, ANON_READ, {"X-Forwarded-For": next(addresses)}).status for _ in range(count)
    ]


def test_invented_client_addresses_do_not_buy_fresh_rate_limits():
    with uvicorn_server(extra_env={"API_THROTTLE_ANON": "5/min"}) as base_url:
        statuses = statuses_with_invented_addresses(base_url, 10)
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * 5


def test_a_claim_of_https_over_plain_http_is_not_secure():
    """Django sends HSTS on secure requests only (request.is_secure()). (The
    SSL redirect cannot be observed here: it would redirect the live
    server's own readiness probe too.)"""
    with uvicorn_server(extra_env={"DJANGO_HSTS_SECONDS": "3600"}) as base_url:
        forged = get(base_url, "/healthz", {"X-Forwarded-Proto": "https"})
    assert forged.status == 200
    assert forged.getheader("Strict-Transport-Security") is None


def test_with_a_proxy_declared_its_headers_count():
    """The same setting turns both on: uvicorn's forwarding (from
    TRUSTED_PROXY_IPS, 127.0.0.1 by default) and Django's SSL header."""
    env = {
        "TRUSTED_PROXY_COUNT": "1",
        "API_THROTTLE_ANON": "5/min",
        "DJANGO_HSTS_SECONDS": "3600",
    }
    with uvicorn_server(extra_env=env) as base_url:
        statuses = statuses_with_invented_addresses(base_url, 8)
        secure = get(base_url, "/healthz", {"X-Forwarded-Proto": "https"})
    assert statuses == [200] * 8  # each address its own limit, as the proxy said
    assert secure.status == 200
    assert secure.getheader("Strict-Transport-Security") == "max-age=3600; includeSubDomains"
