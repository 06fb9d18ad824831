"""DB_QUERY_TIMEOUT on PostgreSQL: the server cancels a statement that runs
longer (statement_timeout), and the runtime's backend closes a connection
whose server answers nothing a second past it. Both end as a 503.
(test_outage.py freezes a whole cluster under a live server.)"""

import time

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection

from catalog.models import Product
from tests.catalog.factories import make_product

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL=postgres://…): statement_timeout is PostgreSQL's",
    ),
    pytest.mark.django_db(transaction=True),
]

runtime_backend = pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "config.runtime.postgresql",
    reason="RUNTIME_DB_BACKEND is off: the stock backend has no client-side deadline "
    "(docs/configuration.md, DB_QUERY_TIMEOUT)",
)


def server_timeout_ms() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        return int(cursor.fetchone()[0])


@pytest.fixture
def short_statement_timeout():
    """This connection's server-side limit cut to 200 ms, restored after."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 200")
    yield
    with connection.cursor() as cursor:
        # The pool hands this connection on as it is: back to the configured limit.
        cursor.execute("RESET statement_timeout")


def test_every_connection_carries_the_statement_timeout():
    assert server_timeout_ms() == round(django_settings.DB_QUERY_TIMEOUT * 1000) > 0


def test_a_statement_past_the_server_timeout_is_a_503_page(
    client, monkeypatch, short_statement_timeout
):
    make_product()
    monkeypatch.setattr(
        "catalog.selectors.product_list",
        lambda **kwargs: Product.objects.extra(where=["pg_sleep(2) IS NOT NULL"]),
    )
    client.raise_request_exception = False
    started = time.monotonic()
    response = client.get("/products/")
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.content.decode()
    assert response["Retry-After"] == "5"
    assert time.monotonic() - started < 1.5


@runtime_backend
def test_a_server_that_does_not_answer_is_given_up_after_the_deadline(settings):
    settings.DB_QUERY_TIMEOUT = 0.3  # the client gives up at 1.3 s
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the server never would
        started = time.monotonic()
        with pytest.raises(OperationalError, match=r"no answer within 1\.3s"):
            cursor.execute("SELECT pg_sleep(4)")
    took = time.monotonic() - started
    assert 1.2 < took < 2.5, took
    assert connection.connection.closed  # mid-exchange: not reusable
    connection.close()
    assert Product.objects.exists() is False  # a fresh connection works


@runtime_backend
def test_zero_turns_the_deadline_off(settings):
    from config.runtime.postgresql.base import answer_deadline

    settings.DB_QUERY_TIMEOUT = 0
    assert answer_deadline() is None
    settings.DB_QUERY_TIMEOUT = 2.5
    assert answer_deadline() == 3.5
