"""Hostile input everywhere (issue 14, defects 3, 6, 9 and 10).

Any string in any query parameter, path parameter, form field, header or
JSON string answers 2xx or a 4xx naming the field, never a 5xx; every answer
under /api/ is JSON; the OpenAPI schema states what the server refuses. The
operations and parameters come from the schema itself, so a new endpoint or
filter is covered without a test of its own. NUL fails only on PostgreSQL
(it cannot hold one): run this file there too.
"""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.test import AsyncClient, Client, RequestFactory
from django.urls import reverse

from config.access.models import api_token_create
from config.api import api
from config.schemas import TEXT_PATTERN
from config.views import csrf_failure
from tests.catalog.factories import make_category, make_order, make_product
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = api.get_openapi_schema()

# Raw query-string values, as an attacker types them: percent-escapes that
# decode to NUL, controls, a lone surrogate (ED A0 80), invalid UTF-8, and
# numbers past 64 bits.
HOSTILE_VALUES = [
    "!",
    "%21%3F%2A",
    "%00",
    "a%00b",
    "%01",
    "%1F%7F",
    "%ED%A0%80",
    "%FF%FE",
    "%C0%AF",
    "%E2%80%8B",
    "x" * 1000,
    "9" * 30,
    "-" + "9" * 30,
    "1e999999",
    "NaN",
    "",
]
CONTROL_CHARACTERS = ["\x00", "a\x00b", "\x01", "tab\there", "\x7f"]


def _operations(method=None):
    for path, operations in SCHEMA["paths"].items():
        for verb, operation in operations.items():
            if method is None or verb == method:
                yield path, verb, operation


def _string_schema(schema: dict) -> dict | None:
    """The string branch of a parameter's schema (``str | None`` is an anyOf)."""
    for branch in [schema, *schema.get("anyOf", [])]:
        if branch.get("type") == "string" and "enum" not in branch:
            return branch
    return None


def _query_parameters(operation):
    return [p for p in operation.get("parameters", []) if p["in"] == "query"]


STRING_QUERY_PARAMETERS = [
    (path, parameter["name"])
    for path, _, operation in _operations("get")
    for parameter in _query_parameters(operation)
    if _string_schema(parameter["schema"]) is not None
]
GET_QUERY_PARAMETERS = [
    (path, parameter["name"])
    for path, _, operation in _operations("get")
    for parameter in _query_parameters(operation)
]


@pytest.fixture
def staff_token(django_user_model):
    user = django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password="correct-horse-battery"
    )
    return user, api_token_create(user=user)[1]


@pytest.fixture
def rows(staff_token):
    genre = make_genre("Drama")
    movie = make_movie("Heat", genres=[genre], director=make_person("Michael Mann"))
    product = make_product(category=make_category(), stock=100)
    order = make_order(user=staff_token[0], items=[(product, 1)])
    return {"movie_id": movie.pk, "product_id": product.pk, "order_id": order.pk}


def _auth(staff_token) -> dict:
    return {"Authorization": f"Bearer {staff_token[1]}"}


def _concrete(path: str, rows: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: str(rows[match.group(1)]), path)


def _assert_json_4xx_or_2xx(response, label):
    assert response.status_code < 500, (label, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), (label, response)
    assert "detail" in response.json() or response.status_code < 300, label


# Defect 3: strings -------------------------------------------------------------


def test_the_schema_lists_string_parameters_to_probe():
    names = {name for _, name in STRING_QUERY_PARAMETERS}
    assert {"q", "genre", "category"} <= names


@pytest.mark.parametrize(("path", "name"), GET_QUERY_PARAMETERS)
async def test_hostile_query_values_never_give_a_server_error(path, name, staff_token, rows):
    client, headers = AsyncClient(), _auth(staff_token)
    for value in HOSTILE_VALUES:
        response = await client.get(f"{_concrete(path, rows)}?{name}={value}", headers=headers)
        _assert_json_4xx_or_2xx(response, (path, name, value))
        if response.status_code == 422:
            assert any(error["loc"][-1] == name for error in response.json()["detail"]), (
                path,
                name,
                value,
                response.json(),
            )


@pytest.mark.parametrize(("path", "name"), STRING_QUERY_PARAMETERS)
async def test_control_characters_in_string_parameters_are_422_naming_them(path, name):
    for value in CONTROL_CHARACTERS:
        response = await AsyncClient().get(path, {name: value})
        assert response.status_code == 422, (path, name, repr(value), response.content)
        locs = [error["loc"] for error in response.json()["detail"]]
        assert ["query", name] in locs, (path, name, repr(value), locs)


def test_every_string_parameter_states_the_control_character_rule():
    for path, verb, operation in _operations():
        for parameter in operation.get("parameters", []):
            branch = _string_schema(parameter["schema"])
            if branch is not None:
                assert "pattern" in branch, (verb, path, parameter["name"])
                assert not re.fullmatch(branch["pattern"], "a\x00b"), (path, parameter["name"])


@pytest.mark.parametrize("path", sorted({p for p, _, _ in _operations() if "{" in p}))
async def test_hostile_path_parameters_are_4xx(path, rows):
    for value in ["%00", "%ED%A0%80", "9" * 30, "-1", "0", "abc"]:
        response = await AsyncClient().get(re.sub(r"\{\w+\}", value, path))
        _assert_json_4xx_or_2xx(response, (path, value))
        assert response.status_code >= 400


@pytest.mark.parametrize("field", ["title", "slug", "genres"])
@pytest.mark.parametrize("value", [*CONTROL_CHARACTERS, "\ud800", "x" * 10_000])
async def test_movie_strings_with_control_characters_or_surrogates_are_422(
    field, value, staff_token
):
    await sync_to_async(make_genre)("Drama")
    body = {
        "title": "Heat",
        "release_date": "1995-12-15",
        "rating": 83,
        "duration": "02:50:00",
        field: [value] if field == "genres" else value,
    }
    # ensure_ascii keeps the lone surrogate as the escape \ud800, as a client sends it
    raw = json.dumps(body)
    client = AsyncClient()
    movie = await sync_to_async(make_movie)("Thief")
    for method, path in [
        ("post", "/api/movies"),
        ("put", f"/api/movies/{movie.pk}"),
        ("patch", f"/api/movies/{movie.pk}"),
    ]:
        response = await getattr(client, method)(
            path, raw, content_type="application/json", headers=_auth(staff_token)
        )
        assert response.status_code == 422, (method, field, repr(value)[:20], response.content)
        locs = [error["loc"][:3] for error in response.json()["detail"]]
        assert ["body", "payload", field] in locs, (method, field, locs)


async def test_idempotency_key_with_control_characters_is_422(staff_token, rows):
    response = await AsyncClient().post(
        "/api/orders",
        {"items": [{"product_id": rows["product_id"], "quantity": 1}]},
        content_type="application/json",
        headers={**_auth(staff_token), "Idempotency-Key": "a\x00b"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


@pytest.mark.parametrize(
    "path",
    [
        "/movies/?q={v}",
        "/movies/?genre={v}",
        "/movies/?q={v}&genre={v}&page={v}",
        "/products/?q={v}",
        "/products/?category={v}&q={v}&page={v}",
    ],
)
def test_hostile_search_on_pages_is_never_a_server_error(client, path):
    make_movie("Heat", genres=[make_genre("Drama")])
    make_product(category=make_category())
    for value in HOSTILE_VALUES:
        response = client.get(path.format(v=value))
        assert response.status_code in (200, 404, 414), (path, value, response.status_code)


def test_nul_in_a_page_search_is_ignored_rather_than_refused(client):
    make_product(name="Blue Mug", category=make_category())
    response = client.get("/products/?q=Blue%00")
    assert response.status_code == 200
    assert b"Blue Mug" in response.content


def _changelists():
    for model in admin.site._registry:
        yield reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_hostile_admin_search_and_filters_are_never_a_server_error(staff_token):
    client = Client()
    client.force_login(staff_token[0])
    for url in _changelists():
        for value in ["%00", "a%00b", "%ED%A0%80", "!", "9" * 30]:
            response = client.get(f"{url}?q={value}")
            assert response.status_code == 200, (url, value, response.status_code)
    response = client.get("/admin/catalog/order/?status__exact=%00&user__id__exact=%00")
    assert response.status_code in (200, 302)


def test_hostile_admin_autocomplete_is_never_a_server_error(staff_token):
    client = Client()
    client.force_login(staff_token[0])
    make_person("Michael Mann")
    for value in ["%00", "Mann%00", "%ED%A0%80", "!"]:
        response = client.get(
            "/admin/autocomplete/?app_label=movies&model_name=movie&field_name=director"
            f"&term={value}"
        )
        assert response.status_code == 200, (value, response.status_code)
        assert "results" in response.json()


def test_text_pattern_refuses_controls_only():
    assert re.fullmatch(TEXT_PATTERN, "Amélie: l'été 2001 — ✓ 🎬")
    for value in CONTROL_CHARACTERS:
        assert not re.fullmatch(TEXT_PATTERN, value)


# Defect 6: JSON for every status under /api/ ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("delete", "/api/genres", "GET, HEAD"),
        ("put", "/api/movies", "GET, HEAD, POST"),
        ("post", "/api/products/1", "GET, HEAD"),
        ("options", "/api/movies/1", "DELETE, GET, HEAD, PATCH, PUT"),
        ("get", "/api/orders/1/cancel", "POST"),
    ],
)
async def test_method_not_allowed_is_json_with_allow(method, path, allow):
    response = await getattr(AsyncClient(), method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == allow
    assert response.json()["detail"].startswith("Method not allowed")


async def test_head_works_wherever_get_does(staff_token, rows):
    client, headers = AsyncClient(), _auth(staff_token)
    for path, _, _ in _operations("get"):
        path = _concrete(path, rows)
        get = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert get.status_code == 200, path
        assert head.status_code == 200, (path, head.status_code, head.content)
        assert head.content == b"", path
        assert head["Content-Type"] == get["Content-Type"]
        assert int(head["Content-Length"]) == len(get.content), path


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/movies/1/nope", "/api"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_to_unknown_api_paths_are_json_404_not_a_csrf_page(method, path):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(path, "{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_csrf_failure_is_json_under_api_and_a_page_elsewhere():
    factory = RequestFactory()
    response = csrf_failure(factory.post("/api/anything"), reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "detail": "CSRF verification failed: CSRF cookie not set."
    }
    page = csrf_failure(factory.post("/accounts/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


def test_csrf_failure_view_is_configured(settings):
    assert settings.CSRF_FAILURE_VIEW == "config.views.csrf_failure"


# Defect 9: JSON bodies only ----------------------------------------------------


BODY_OPERATIONS = [
    (verb, path) for path, verb, operation in _operations() if operation.get("requestBody")
]


def test_body_operations_are_found():
    assert ("post", "/api/orders") in BODY_OPERATIONS
    assert ("patch", "/api/movies/{movie_id}") in BODY_OPERATIONS


@pytest.mark.parametrize(("verb", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data"]
)
async def test_a_body_that_is_not_json_is_415(verb, path, content_type, staff_token, rows):
    body = json.dumps({"items": [{"product_id": rows["product_id"], "quantity": 1}]})
    response = await AsyncClient().generic(
        verb.upper(),
        _concrete(path, rows),
        body,
        content_type=content_type,
        headers=_auth(staff_token),
    )
    assert response.status_code == 415, (verb, path, content_type, response.content)
    assert response.json()["detail"].startswith("Unsupported Content-Type")


async def test_json_with_a_charset_is_accepted(staff_token, rows):
    response = await AsyncClient().post(
        "/api/orders",
        json.dumps({"items": [{"product_id": rows["product_id"], "quantity": 1}]}),
        content_type="application/json; charset=utf-8",
        headers=_auth(staff_token),
    )
    assert response.status_code == 201, response.content


async def test_a_post_without_a_body_parameter_takes_any_content_type(staff_token, rows):
    response = await AsyncClient().post(
        f"/api/orders/{rows['order_id']}/cancel",
        "ignored",
        content_type="text/plain",
        headers=_auth(staff_token),
    )
    assert response.status_code == 200, response.content


# Defect 10: the schema states what the server refuses ------------------------


def test_every_body_operation_declares_415_and_422():
    for verb, path in BODY_OPERATIONS:
        responses = SCHEMA["paths"][path][verb]["responses"]
        assert {415, 422, 400} <= set(responses), (verb, path, sorted(responses))


def test_cross_field_rules_are_described_and_their_422_declared():
    movies = SCHEMA["paths"]["/api/movies"]["get"]
    assert "`year_min` greater than `year_max` is a 422" in movies["description"]
    assert 422 in movies["responses"]
    products = SCHEMA["paths"]["/api/products"]["get"]
    assert "`min_price` greater than `max_price` is a 422" in products["description"]
    assert 422 in products["responses"]


@pytest.mark.parametrize("name", ["min_price", "max_price"])
async def test_price_filters_accept_exactly_what_their_pattern_allows(name):
    (parameter,) = [
        p for p in SCHEMA["paths"]["/api/products"]["get"]["parameters"] if p["name"] == name
    ]
    pattern = _string_schema(parameter["schema"])["pattern"]
    client = AsyncClient()
    for value in ["0", "12", "12.5", "12.50", "9999999999.99"]:
        assert re.fullmatch(pattern, value), value
        assert (await client.get("/api/products", {name: value})).status_code == 200, value
    for value in ["", " ", "-1", "1e3", "12.505", "NaN", "Infinity", "1" * 11, "+1", "1."]:
        assert not re.fullmatch(pattern, value), value
        response = await client.get("/api/products", {name: value})
        assert response.status_code == 422, (value, response.content)
        assert response.json()["detail"][0]["loc"] == ["query", name]
