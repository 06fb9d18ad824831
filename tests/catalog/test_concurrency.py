"""Stock holds under real races: many transactions at once on one product,
from threads with their own connections and from two separate server
processes sharing the database.

These need PostgreSQL: it runs transactions truly concurrently with row locks,
which is where overselling would show. CI runs the suite on PostgreSQL, so
they run there.
"""

import asyncio
import contextlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection, connections

from catalog import services
from catalog.models import Order, OrderItem, Product
from catalog.services import OrderLine, order_create
from config.access.models import api_token_create
from tests.catalog.factories import make_product
from tests.live import uvicorn_server

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL=postgres://…): SQLite runs one write "
        "transaction at a time, so these races cannot happen there; CI runs them on PostgreSQL",
    ),
    # Rows must be committed for other connections and processes to see them.
    pytest.mark.django_db(transaction=True),
]

ATTEMPTS = 20
STOCK = 5
TIMEOUT = 60


def run_at_once(count, function):
    """Call ``function(i)`` for i in range(count) from ``count`` threads
    released together; returns each call's result or the exception it raised."""
    barrier = threading.Barrier(count)

    def worker(i):
        try:
            barrier.wait(timeout=TIMEOUT)
            return function(i)
        except Exception as exc:
            return exc
        finally:
            # Each thread has its own connection: give it back to the pool.
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(worker, i) for i in range(count)]
        return [future.result(timeout=TIMEOUT) for future in futures]


def outcome(result):
    return "placed" if isinstance(result, tuple) else type(result).__name__


def test_concurrent_orders_for_the_last_units_never_oversell(user):
    product = make_product(stock=STOCK)
    results = run_at_once(
        ATTEMPTS, lambda i: order_create(user=user, items=[OrderLine(product.pk, 1)])
    )
    assert Counter(map(outcome, results)) == {
        "placed": STOCK,
        "InsufficientStock": ATTEMPTS - STOCK,
    }
    assert all(r.available == 0 for r in results if isinstance(r, services.InsufficientStock))
    product.refresh_from_db()
    assert product.stock == 0
    assert Order.objects.count() == STOCK
    assert sum(OrderItem.objects.values_list("quantity", flat=True)) == STOCK


def test_orders_for_the_same_products_in_any_order_do_not_deadlock(user):
    first = make_product(stock=STOCK)
    second = make_product(stock=STOCK)

    def place(i):
        pair = [OrderLine(first.pk, 1), OrderLine(second.pk, 1)]
        return order_create(user=user, items=pair if i % 2 else pair[::-1])

    results = run_at_once(ATTEMPTS, place)
    # A deadlock would surface as an OperationalError in some thread.
    assert Counter(map(outcome, results)) == {
        "placed": STOCK,
        "InsufficientStock": ATTEMPTS - STOCK,
    }
    assert [Product.objects.get(pk=p.pk).stock for p in (first, second)] == [0, 0]
    assert Order.objects.count() == STOCK


def test_concurrent_retries_with_one_idempotency_key_place_one_order(user):
    product = make_product(stock=STOCK)
    results = run_at_once(
        10,
        lambda i: order_create(
            user=user, items=[OrderLine(product.pk, 2)], idempotency_key="double-click"
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert len({order.pk for order, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    product.refresh_from_db()
    assert product.stock == STOCK - 2
    assert Order.objects.count() == 1


def test_two_server_processes_sharing_the_database_never_oversell(user):
    product = make_product(stock=STOCK)
    _, token = api_token_create(user=user, name="race")

    async def fire(base_urls):
        headers = {"Authorization": f"Bearer {token}"}
        body = {"items": [{"product_id": product.pk, "quantity": 1}]}
        async with httpx.AsyncClient(timeout=TIMEOUT, headers=headers) as client:
            requests = [
                client.post(f"{base_urls[i % len(base_urls)]}/api/orders", json=body)
                for i in range(ATTEMPTS)
            ]
            return await asyncio.wait_for(asyncio.gather(*requests), TIMEOUT)

    with contextlib.ExitStack() as servers:
        base_urls = [servers.enter_context(uvicorn_server()) for _ in range(2)]
        assert base_urls[0] != base_urls[1]
        responses = asyncio.run(fire(base_urls))

    assert Counter(r.status_code for r in responses) == {201: STOCK, 409: ATTEMPTS - STOCK}
    # Each process answered half of the requests.
    assert Counter(str(r.request.url).split("/api/")[0] for r in responses) == {
        url: ATTEMPTS // 2 for url in base_urls
    }
    conflicts = [r.json() for r in responses if r.status_code == 409]
    assert all(c["product_id"] == product.pk and c["available"] == 0 for c in conflicts)
    product.refresh_from_db()
    assert product.stock == 0
    assert Order.objects.count() == STOCK
    assert set(Order.objects.values_list("pk", flat=True)) == {
        r.json()["id"] for r in responses if r.status_code == 201
    }
