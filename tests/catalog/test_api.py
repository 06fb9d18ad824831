"""The catalog API as a client sees it: status codes, bodies, and what is in
the database afterwards."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from catalog.models import Order, Product
from config.access.models import api_token_create
from conftest import grant
from tests.catalog.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def tax(settings):
    settings.TAX_RATE = Decimal("0.10")


class ApiClient:
    """An AsyncClient that sends a bearer token and JSON bodies. (Headers
    are passed per request: AsyncClient(headers=...) sends them under WSGI
    names that ASGI requests drop.)"""

    def __init__(self, token: str | None = None):
        self.client = AsyncClient()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def get(self, path, **headers):
        return await self.client.get(path, headers={**self.headers, **headers})

    async def post(self, path, body=None, **headers):
        data = body if body is None or isinstance(body, str) else json.dumps(body)
        return await self.client.post(
            path,
            data=data or "",
            content_type="application/json",
            headers={**self.headers, **headers},
        )


def token_for(user) -> str:
    return api_token_create(user=user, name="tests")[1]


@pytest.fixture
def anonymous():
    return ApiClient()


@pytest.fixture
def api(user_token):
    """A client with the test user's (alice's) token."""
    return ApiClient(user_token)


@pytest.fixture
def staff_api(staff_user):
    return ApiClient(token_for(staff_user))


@pytest.fixture
def other_api(other_user):
    return ApiClient(token_for(other_user))


async def sync(function, *args, **kwargs):
    """Run a sync factory from an async test."""
    return await sync_to_async(function)(*args, **kwargs)


async def stock(product) -> int:
    return (await Product.objects.aget(pk=product.pk)).stock


# Categories and products: public reads.


async def test_list_categories_counts_active_products(anonymous):
    books = await sync(make_category, name="Books", slug="books")
    await sync(make_category, name="Garden", slug="garden")
    await sync(make_product, category=books)
    await sync(make_product, category=books, is_active=False)
    response = await anonymous.get("/api/categories")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(c["slug"], c["product_count"]) for c in body["items"]] == [
        ("books", 1),
        ("garden", 0),
    ]


async def test_list_products_shows_active_products_with_category_and_tax(anonymous):
    kitchen = await sync(make_category, name="Kitchen", slug="kitchen")
    await sync(make_product, name="Mug", price=Decimal("0.95"), stock=4, category=kitchen)
    await sync(make_product, name="Hidden", is_active=False, category=kitchen)
    response = await anonymous.get("/api/products")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (mug,) = body["items"]
    assert mug["name"] == "Mug"
    assert mug["category"] == {"id": kitchen.pk, "name": "Kitchen", "slug": "kitchen"}
    # Decimal strings with two places, rounded half up; never floats.
    assert mug["price"] == "0.95"
    assert mug["price_with_tax"] == "1.05"
    assert (mug["stock"], mug["in_stock"]) == (4, True)


@pytest.fixture
def shelf():
    """Four active products in two categories, and one inactive."""
    books = make_category(name="Books", slug="books")
    tools = make_category(name="Tools", slug="tools")
    return {
        "atlas": make_product(name="Atlas", price=Decimal("30.00"), stock=0, category=books),
        "novel": make_product(
            name="Novel", price=Decimal("12.50"), category=books, description="a thriller"
        ),
        "hammer": make_product(name="Hammer", price=Decimal("25.00"), category=tools),
        "saw": make_product(name="Saw", price=Decimal("45.00"), category=tools),
        "retired": make_product(name="Retired", is_active=False, category=tools),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Atlas", "Hammer", "Novel", "Saw"]),
        ("?category=books", ["Atlas", "Novel"]),
        ("?category=nothing-here", []),
        ("?min_price=25", ["Atlas", "Hammer", "Saw"]),
        ("?max_price=25.00", ["Hammer", "Novel"]),
        ("?min_price=20&max_price=40", ["Atlas", "Hammer"]),
        ("?in_stock=true", ["Hammer", "Novel", "Saw"]),
        ("?in_stock=false", ["Atlas"]),
        ("?q=HAM", ["Hammer"]),
        ("?q=thriller", ["Novel"]),
        ("?q=retired", []),
        ("?category=tools&max_price=30&in_stock=true", ["Hammer"]),
    ],
)
async def test_product_filters(anonymous, shelf, query, expected):
    response = await anonymous.get(f"/api/products{query}")
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body["items"]] == expected
    assert body["count"] == len(expected)


async def test_products_are_paginated(anonymous, shelf):
    response = await anonymous.get("/api/products?limit=2&offset=1")
    body = response.json()
    assert body["count"] == 4
    assert [p["name"] for p in body["items"]] == ["Hammer", "Novel"]


async def test_default_page_size_is_ten(anonymous):
    category = await sync(make_category)
    for n in range(12):
        await sync(make_product, name=f"P{n:02}", category=category)
    body = (await anonymous.get("/api/products")).json()
    assert body["count"] == 12
    assert len(body["items"]) == 10


@pytest.mark.parametrize(
    "query",
    [
        "?limit=101",
        "?limit=0",
        "?offset=-1",
        "?min_price=abc",
        "?min_price=-1",
        "?min_price=NaN",
        "?max_price=Infinity",
        "?min_price=50&max_price=10",
        "?in_stock=perhaps",
        "?q=" + "x" * 101,
    ],
)
async def test_bad_product_filters_are_422(anonymous, query):
    response = await anonymous.get(f"/api/products{query}")
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_get_product(anonymous, shelf):
    novel = shelf["novel"]
    response = await anonymous.get(f"/api/products/{novel.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Novel"
    assert body["description"] == "a thriller"
    assert (body["price"], body["price_with_tax"]) == ("12.50", "13.75")
    assert body["category"]["slug"] == "books"


async def test_inactive_or_missing_product_is_404(anonymous, shelf):
    for product_id in [shelf["retired"].pk, shelf["retired"].pk + 1000]:
        response = await anonymous.get(f"/api/products/{product_id}")
        assert response.status_code == 404
        assert "detail" in response.json()


@pytest.mark.parametrize("product_id", ["abc", "0", str(2**64)])
async def test_impossible_product_ids_are_422(anonymous, product_id):
    response = await anonymous.get(f"/api/products/{product_id}")
    assert response.status_code == 422


# Placing orders.


async def test_placing_an_order_needs_a_token(anonymous):
    product = await sync(make_product, stock=3)
    body = {"items": [{"product_id": product.pk, "quantity": 1}]}
    anonymous = await anonymous.post("/api/orders", body)
    forged = await ApiClient("not-a-real-token").post("/api/orders", body)
    assert (anonymous.status_code, forged.status_code) == (401, 401)
    assert await stock(product) == 3
    assert not await Order.objects.aexists()


async def test_place_an_order(api, user):
    mug = await sync(make_product, name="Mug", price=Decimal("8.25"), stock=10)
    lamp = await sync(make_product, name="Lamp", price=Decimal("45.00"), stock=3)
    response = await api.post(
        "/api/orders",
        {
            "items": [
                {"product_id": mug.pk, "quantity": 3},
                {"product_id": lamp.pk, "quantity": 1},
            ]
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert [
        (i["product_name"], i["quantity"], i["unit_price"], i["line_total"]) for i in body["items"]
    ] == [
        ("Mug", 3, "8.25", "24.75"),
        ("Lamp", 1, "45.00", "45.00"),
    ]
    assert (body["subtotal"], body["tax"], body["total"], body["tax_rate"]) == (
        "69.75",
        "6.98",
        "76.73",
        "0.1",
    )
    order = await Order.objects.aget(pk=body["id"])
    assert order.user_id == user.pk
    assert order.total == Decimal("76.73")
    assert (await stock(mug), await stock(lamp)) == (7, 2)


async def test_prices_sent_by_the_client_are_ignored(api):
    product = await sync(make_product, price=Decimal("20.00"), stock=5)
    response = await api.post(
        "/api/orders",
        {
            "items": [
                {"product_id": product.pk, "quantity": 2, "price": "0.01", "unit_price": "0.01"}
            ],
            "total": "0.02",
            "subtotal": "0.02",
            "status": "paid",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["items"][0]["unit_price"] == "20.00"
    assert (body["total"], body["status"]) == ("44.00", "pending")
    order = await Order.objects.aget(pk=body["id"])
    assert (order.total, order.status) == (Decimal("44.00"), "pending")


async def test_not_enough_stock_is_409_naming_the_product_and_what_is_left(api):
    plenty = await sync(make_product, stock=50)
    scarce = await sync(make_product, stock=2)
    response = await api.post(
        "/api/orders",
        {
            "items": [
                {"product_id": plenty.pk, "quantity": 5},
                {"product_id": scarce.pk, "quantity": 3},
            ]
        },
    )
    assert response.status_code == 409
    body = response.json()
    assert (body["product_id"], body["requested"], body["available"]) == (scarce.pk, 3, 2)
    assert f"product {scarce.pk}" in body["detail"]
    assert (await stock(plenty), await stock(scarce)) == (50, 2)
    assert not await Order.objects.aexists()


async def test_unknown_and_inactive_products_are_422_pointing_at_the_items(api):
    good = await sync(make_product, stock=5)
    hidden = await sync(make_product, stock=5, is_active=False)
    missing_id = hidden.pk + 1000
    response = await api.post(
        "/api/orders",
        {
            "items": [
                {"product_id": good.pk, "quantity": 1},
                {"product_id": hidden.pk, "quantity": 1},
                {"product_id": missing_id, "quantity": 1},
            ]
        },
    )
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["loc"][-2], e["type"]) for e in errors] == [
        (1, "product_unavailable"),
        (2, "product_unavailable"),
    ]
    assert str(missing_id) in errors[1]["msg"]
    assert (await stock(good), await stock(hidden)) == (5, 5)
    assert not await Order.objects.aexists()


BAD_BODIES = {
    "zero quantity": {"items": [{"product_id": "{pk}", "quantity": 0}]},
    "negative quantity": {"items": [{"product_id": "{pk}", "quantity": -1}]},
    "quantity over the maximum": {"items": [{"product_id": "{pk}", "quantity": 1001}]},
    "quantity that overflows": {"items": [{"product_id": "{pk}", "quantity": 10**30}]},
    "fractional quantity": {"items": [{"product_id": "{pk}", "quantity": 1.5}]},
    "text quantity": {"items": [{"product_id": "{pk}", "quantity": "lots"}]},
    "missing quantity": {"items": [{"product_id": "{pk}"}]},
    "product id that overflows": {"items": [{"product_id": 2**70, "quantity": 1}]},
    "zero product id": {"items": [{"product_id": 0, "quantity": 1}]},
    "empty item list": {"items": []},
    "no item list": {},
    "items not a list": {"items": {"product_id": "{pk}", "quantity": 1}},
    "body not an object": [{"product_id": "{pk}", "quantity": 1}],
    "duplicate products": {
        "items": [{"product_id": "{pk}", "quantity": 1}, {"product_id": "{pk}", "quantity": 1}]
    },
    "too many items": {"items": [{"product_id": n, "quantity": 1} for n in range(1, 102)]},
}


@pytest.mark.parametrize("case", BAD_BODIES)
async def test_bad_orders_are_422_and_change_nothing(api, case):
    product = await sync(make_product, stock=5)
    body = json.loads(json.dumps(BAD_BODIES[case]).replace('"{pk}"', str(product.pk)))
    response = await api.post("/api/orders", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"]
    assert await stock(product) == 5
    assert not await Order.objects.aexists()


@pytest.mark.parametrize("raw", ['{"items": [', "not json", '{"items": [{"product_id": 1,}]}'])
async def test_malformed_json_is_400_and_changes_nothing(api, raw):
    product = await sync(make_product, stock=5)
    response = await api.post("/api/orders", raw)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "Cannot parse" in response.json()["detail"]
    assert await stock(product) == 5
    assert not await Order.objects.aexists()


async def test_duplicate_products_are_named(api):
    product = await sync(make_product, stock=5)
    item = {"product_id": product.pk, "quantity": 1}
    response = await api.post("/api/orders", {"items": [item, item]})
    assert response.status_code == 422
    assert f"more than once: {product.pk}" in json.dumps(response.json())


async def test_an_idempotency_key_makes_a_retry_return_the_first_order(api):
    product = await sync(make_product, stock=5)
    body = {"items": [{"product_id": product.pk, "quantity": 2}]}
    first = await api.post("/api/orders", body, **{"Idempotency-Key": "cart-42"})
    retry = await api.post("/api/orders", body, **{"Idempotency-Key": "cart-42"})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert await Order.objects.acount() == 1
    assert await stock(product) == 3
    # A new key is a new order.
    other = await api.post("/api/orders", body, **{"Idempotency-Key": "cart-43"})
    assert other.status_code == 201
    assert await stock(product) == 1


async def test_an_idempotency_key_reused_for_other_items_is_422(api):
    product = await sync(make_product, stock=5)
    key = {"Idempotency-Key": "k"}
    await api.post("/api/orders", {"items": [{"product_id": product.pk, "quantity": 1}]}, **key)
    response = await api.post(
        "/api/orders", {"items": [{"product_id": product.pk, "quantity": 2}]}, **key
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "different items" in error["msg"]
    assert await stock(product) == 4


async def test_an_overlong_idempotency_key_is_422(api):
    product = await sync(make_product, stock=5)
    body = {"items": [{"product_id": product.pk, "quantity": 1}]}
    response = await api.post("/api/orders", body, **{"Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert await stock(product) == 5


# Reading and cancelling orders.


async def test_list_orders_shows_only_the_callers_orders(api, user, other_user):
    product = await sync(make_product)
    older = await sync(make_order, user=user, items=[(product, 1)])
    newer = await sync(make_order, user=user, items=[(product, 2)])
    await sync(make_order, user=other_user, items=[(product, 3)])
    response = await api.get("/api/orders")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [o["id"] for o in body["items"]] == [newer.pk, older.pk]
    assert body["items"][0]["items"][0]["quantity"] == 2
    page = (await api.get("/api/orders?limit=1&offset=1")).json()
    assert [o["id"] for o in page["items"]] == [older.pk]


async def test_list_orders_needs_a_token(anonymous):
    assert (await anonymous.get("/api/orders")).status_code == 401


async def test_get_own_order(api, user):
    product = await sync(make_product, name="Kettle")
    order = await sync(make_order, user=user, items=[(product, 2)])
    response = await api.get(f"/api/orders/{order.pk}")
    assert response.status_code == 200
    assert response.json()["items"][0]["product_name"] == "Kettle"


async def test_another_users_order_is_404_like_a_missing_one(api, other_user):
    order = await sync(make_order, user=other_user, items=[(await sync(make_product), 1)])
    theirs = await api.get(f"/api/orders/{order.pk}")
    missing = await api.get(f"/api/orders/{order.pk + 1000}")
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert "other" not in theirs.content.decode()
    assert "bob" not in theirs.content.decode()


async def test_staff_may_read_anyones_order(staff_api, other_user):
    order = await sync(make_order, user=other_user, items=[(await sync(make_product), 1)])
    response = await staff_api.get(f"/api/orders/{order.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == order.pk


async def test_cancel_own_pending_order_restores_stock(api):
    product = await sync(make_product, stock=5)
    placed = await api.post("/api/orders", {"items": [{"product_id": product.pk, "quantity": 4}]})
    order_id = placed.json()["id"]
    assert await stock(product) == 1
    response = await api.post(f"/api/orders/{order_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert await stock(product) == 5
    again = await api.post(f"/api/orders/{order_id}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]
    assert await stock(product) == 5


async def test_paid_orders_cannot_be_cancelled(api, user):
    product = await sync(make_product, stock=5)
    order = await sync(make_order, user=user, items=[(product, 1)], status=Order.Status.PAID)
    response = await api.post(f"/api/orders/{order.pk}/cancel")
    assert response.status_code == 409
    assert "paid" in response.json()["detail"]
    assert await stock(product) == 5
    assert (await Order.objects.aget(pk=order.pk)).status == "paid"


async def test_cancelling_another_users_order_is_404_and_changes_nothing(api, other_api):
    product = await sync(make_product, stock=5)
    placed = await other_api.post(
        "/api/orders", {"items": [{"product_id": product.pk, "quantity": 2}]}
    )
    order_id = placed.json()["id"]
    response = await api.post(f"/api/orders/{order_id}/cancel")
    assert response.status_code == 404
    assert await stock(product) == 3
    assert (await Order.objects.aget(pk=order_id)).status == "pending"


async def test_staff_need_the_change_permission_to_cancel_others_orders(
    staff_api, staff_user, other_api
):
    product = await sync(make_product, stock=5)
    placed = await other_api.post(
        "/api/orders", {"items": [{"product_id": product.pk, "quantity": 2}]}
    )
    order_id = placed.json()["id"]
    refused = await staff_api.post(f"/api/orders/{order_id}/cancel")
    assert refused.status_code == 403
    assert await stock(product) == 3

    await sync(grant, staff_user, "catalog.change_order")
    allowed = await staff_api.post(f"/api/orders/{order_id}/cancel")
    assert allowed.status_code == 200
    assert await stock(product) == 5


@pytest.mark.parametrize("key", ["", "   "])
async def test_an_empty_or_blank_idempotency_key_is_422_naming_the_header(api, key):
    product = await sync(make_product, stock=5)
    body = {"items": [{"product_id": product.pk, "quantity": 1}]}
    response = await api.post("/api/orders", body, **{"Idempotency-Key": key})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "Idempotency-Key" in error["msg"]
    assert await stock(product) == 5
    assert await Order.objects.acount() == 0
