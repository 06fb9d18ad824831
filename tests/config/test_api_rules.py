"""Rules of the API that a client generated from its schema relies on:
unknown query parameters are refused as unknown body fields are, integers in
JSON bodies are JSON Schema's (100.0 is 100, 100.5 and "100" are not), and
the schema links what a create returns to the operations that take its id."""

import re

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from catalog.models import Order
from config.api import api
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/movies?yaer=1999",
        "/api/movies?limit=5&=x",
        "/api/genres?q=a&page=2",
        "/api/products/1?expand=all",
        "/api/categories?format=json",
    ],
)
async def test_an_unknown_query_parameter_is_a_422_naming_it(path):
    response = await AsyncClient().get(path)
    assert response.status_code == 422
    unknown = path.split("?")[1].split("&")[-1].split("=")[0]
    assert response.json()["detail"] == [
        {
            "type": "unknown_parameter",
            "loc": ["query", unknown],
            "msg": "Unknown query parameter: this operation does not take it.",
        }
    ]


async def test_known_query_parameters_still_work():
    client = AsyncClient()
    assert (await client.get("/api/movies?year_min=1990&limit=5&offset=0")).status_code == 200
    assert (await client.get("/api/products?min_price=1&in_stock=true")).status_code == 200
    assert (await client.head("/api/genres?q=a")).status_code == 200


async def order(user_token, items):
    return await AsyncClient().post(
        "/api/orders",
        {"items": items},
        content_type="application/json",
        headers={"Authorization": f"Bearer {user_token}"},
    )


async def test_a_whole_float_is_the_integer_it_equals(user_token):
    product = await sync_to_async(make_product)(stock=5)
    response = await order(user_token, [{"product_id": float(product.pk), "quantity": 2.0}])
    assert response.status_code == 201, response.json()
    assert response.json()["items"][0]["quantity"] == 2
    assert await Order.objects.acount() == 1


@pytest.mark.parametrize("quantity", [1.5, "2", True, 1e-9])
async def test_a_fraction_a_string_or_a_boolean_is_not_an_integer(user_token, quantity):
    product = await sync_to_async(make_product)(stock=5)
    response = await order(user_token, [{"product_id": product.pk, "quantity": quantity}])
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"][-1] == "quantity"
    assert await Order.objects.acount() == 0


def test_creates_link_to_the_operations_that_take_the_new_id():
    schema = api.get_openapi_schema()
    operation_ids = {
        operation["operationId"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    }
    movie = schema["paths"]["/api/movies"]["post"]["responses"][201]["links"]
    order = schema["paths"]["/api/orders"]["post"]["responses"]
    assert set(movie) == {
        "movies_api_get_movie",
        "movies_api_update_movie",
        "movies_api_partial_update_movie",
        "movies_api_delete_movie",
    }
    assert (
        set(order[201]["links"])
        == set(order[200]["links"])
        == {
            "catalog_api_get_order",
            "catalog_api_cancel_order",
        }
    )
    for link in [*movie.values(), *order[201]["links"].values()]:
        assert link["operationId"] in operation_ids  # not a renamed handler
        assert list(link["parameters"].values()) == ["$response.body#/id"]


def test_the_schema_says_an_idempotency_key_is_not_blank():
    (header,) = api.get_openapi_schema()["paths"]["/api/orders"]["post"]["parameters"]
    pattern = re.compile(header["schema"]["pattern"])
    assert header["schema"]["maxLength"] == 255
    for blank in ["", "   ", "\t", "\u2003"]:
        assert not pattern.fullmatch(blank), repr(blank)
    assert pattern.fullmatch(" retry-1 ")
