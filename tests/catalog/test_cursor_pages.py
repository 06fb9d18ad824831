"""Cursor pages of GET /api/products, as a client pages through them."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from config.pagination import encode_cursor
from tests.catalog.factories import make_category, make_product

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["Anvil", "Bucket", "Chisel", "Drill"]


@pytest.fixture(autouse=True)
def tax(settings):
    settings.TAX_RATE = Decimal("0.10")


@pytest.fixture
def shelf():
    """14 active products, names repeating (the id breaks the ties), and
    inactive ones that no page shows."""
    tools = make_category(name="Tools", slug="tools")
    garden = make_category(name="Garden", slug="garden")
    for n in range(14):
        make_product(
            name=NAMES[n % 4],
            category=tools if n % 2 else garden,
            price=Decimal(5 + n),
            stock=n % 3,
        )
    make_product(name="Anvil", is_active=False, category=tools)


def ids(body) -> list[int]:
    return [item["id"] for item in body["items"]]


async def expected(**filters) -> list[int]:
    products = [p async for p in Product.objects.filter(is_active=True, **filters)]
    return [p.pk for p in sorted(products, key=lambda p: (p.name, p.pk))]


async def get(client, **params):
    response = await client.get("/api/products", params)
    assert response.status_code == 200, response.content
    return response.json()


async def walk(client, link: str, body: dict, **params) -> list[list[int]]:
    pages = [ids(body)]
    while body[link] is not None:
        body = await get(client, cursor=body[link], **params)
        pages.append(ids(body))
    return pages


@pytest.mark.parametrize("count", ["true", "false"])
async def test_walking_forward_and_back_gives_every_product_once_in_order(
    shelf, async_client, count
):
    first = await get(async_client, limit=4, count=count)
    assert first["previous"] is None
    forward = await walk(async_client, "next", first, limit=4, count=count)
    assert [len(page) for page in forward] == [4, 4, 4, 2]
    assert sum(forward, []) == await expected()

    past = await get(async_client, limit=4, offset=100, count=count)
    last = await get(async_client, limit=4, cursor=past["previous"], count=count)
    backward = await walk(async_client, "previous", last, limit=4, count=count)
    assert [len(page) for page in backward] == [4, 4, 4, 2]
    assert sum(reversed(backward), []) == await expected()


async def test_items_are_the_same_as_on_offset_pages(shelf, async_client):
    first = await get(async_client, limit=3)
    by_cursor = await get(async_client, limit=3, cursor=first["next"])
    by_offset = await get(async_client, limit=3, offset=3)
    assert by_cursor["items"] == by_offset["items"]
    item = by_cursor["items"][0]
    assert set(item) == {
        "id",
        "name",
        "slug",
        "category",
        "price",
        "price_with_tax",
        "currency",
        "stock",
        "in_stock",
    }
    assert by_cursor["count"] == by_offset["count"] == 14


async def test_filters_come_from_the_query_string(shelf, async_client):
    params = {"category": "tools", "limit": 2}
    pages = await walk(async_client, "next", await get(async_client, **params), **params)
    assert sum(pages, []) == await expected(category__slug="tools")


async def test_a_product_added_ahead_does_not_shift_the_next_page(shelf, async_client):
    first = await get(async_client, limit=4)
    second_before = await get(async_client, limit=4, offset=4)
    category = await Product.objects.values_list("category", flat=True).afirst()
    await Product.objects.acreate(
        name="Adze", slug="adze", price=Decimal("3.00"), stock=1, category_id=category
    )
    second = await get(async_client, limit=4, cursor=first["next"])
    assert ids(second) == ids(second_before)
    assert second["count"] == 15


def test_count_false_runs_no_count_query(shelf, settings):
    settings.API_THROTTLE_ANON = "off"
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/products", {"count": "false", "limit": 5}).json()
    assert body["count"] is None
    assert len(body["items"]) == 5
    assert body["next"] is not None
    assert not any("COUNT(" in query["sql"] for query in queries.captured_queries)


@pytest.mark.parametrize(
    ("cursor", "says"),
    [
        (encode_cursor("movies", "title,id", "next", ["Alpha", 1]), "not products"),
        (encode_cursor("products", "-name,-id", "next", ["Anvil", 1]), "ordering"),
        (encode_cursor("products", "name,id", "next", ["Anvil", "x"]), "Not a cursor"),
        ("bm90IGEgY3Vyc29y", "Not a cursor"),
    ],
)
async def test_a_cursor_the_list_did_not_make_is_a_422(shelf, async_client, cursor, says):
    response = await async_client.get("/api/products", {"cursor": cursor})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "cursor"]
    assert says in error["msg"]


async def test_a_cursor_with_an_offset_is_a_422(shelf, async_client):
    first = await get(async_client, limit=4)
    response = await async_client.get("/api/products", {"cursor": first["next"], "offset": 1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]


async def test_openapi_documents_the_page(async_client):
    schema = (await async_client.get("/api/openapi.json")).json()
    parameters = {p["name"] for p in schema["paths"]["/api/products"]["get"]["parameters"]}
    assert {"limit", "offset", "cursor", "count", "category"} <= parameters
    page = schema["components"]["schemas"]["ProductPageOut"]["properties"]
    assert set(page) == {"items", "count", "next", "previous"}
