"""Cursor pages of GET /api/movies, as a client pages through them: every
movie exactly once, in order, both ways; pages that stay put while movies are
added; the count left out on request; any cursor the list did not make for
this ordering is a 422 naming it."""

import base64
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.pagination import encode_cursor
from config.runtime import native_db
from movies.models import Movie
from movies.selectors import MOVIE_ORDERINGS
from tests.movies.factories import make_genre, make_movie

pytestmark = pytest.mark.django_db(transaction=True)

# Letters only, one case: PostgreSQL's collations and Python agree on them.
TITLES = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]


@pytest.fixture
def shelf():
    """23 movies with ties on every ordering field (the id breaks them)."""
    drama = make_genre("Drama")
    movies = []
    for n in range(23):
        movies.append(
            make_movie(
                TITLES[n % 5],
                release_date=date(1990 + n % 4, 1, 1 + n // 5),
                rating=60 + 10 * (n % 3),
                genres=[drama] if n % 2 else [],
            )
        )
    return movies


def expected_ids(ordering: str, movies=None) -> list[int]:
    """The order a client should see, worked out in Python."""
    field = ordering.lstrip("-")
    movies = movies if movies is not None else list(Movie.objects.all())
    ordered = sorted(movies, key=lambda m: (getattr(m, field), m.pk))
    if ordering.startswith("-"):
        ordered.reverse()
    return [movie.pk for movie in ordered]


def ids(body) -> list[int]:
    return [item["id"] for item in body["items"]]


async def get(client, **params):
    response = await client.get("/api/movies", params)
    assert response.status_code == 200, response.content
    return response.json()


async def walk(client, link: str, first: dict, **params) -> list[list[int]]:
    """The pages from ``first`` on, following ``link`` (next or previous)."""
    pages = [ids(first)]
    body = first
    while body[link] is not None:
        body = await get(client, cursor=body[link], **params)
        assert body["items"], "a link never leads to an empty page here"
        pages.append(ids(body))
    return pages


async def sync_expected(ordering: str) -> list[int]:
    return expected_ids(ordering, [movie async for movie in Movie.objects.all()])


@pytest.mark.parametrize("ordering", MOVIE_ORDERINGS)
async def test_walking_forward_and_back_gives_every_movie_once_in_order(
    shelf, async_client, ordering
):
    expected = await sync_expected(ordering)
    first = await get(async_client, ordering=ordering, limit=5)
    assert first["previous"] is None
    forward = await walk(async_client, "next", first, ordering=ordering, limit=5)
    assert [len(page) for page in forward] == [5, 5, 5, 5, 3]
    assert sum(forward, []) == expected

    # From past the end, the previous link is the last page.
    past = await get(async_client, ordering=ordering, limit=5, offset=1000)
    last = await get(async_client, ordering=ordering, limit=5, cursor=past["previous"])
    assert last["next"] is None
    backward = await walk(async_client, "previous", last, ordering=ordering, limit=5)
    assert [len(page) for page in backward] == [5, 5, 5, 5, 3]
    # Each page comes in the list's order.
    assert sum(reversed(backward), []) == expected


async def test_count_false_leaves_the_count_out_and_still_links(shelf, async_client):
    body = await get(async_client, limit=10, count="false")
    assert body["count"] is None
    pages = await walk(async_client, "next", body, limit=10, count="false")
    assert [len(page) for page in pages] == [10, 10, 3]
    assert sum(pages, []) == await sync_expected("title")


def test_count_false_runs_no_count_query(shelf, settings):
    settings.API_THROTTLE_ANON = "off"  # only the list's queries
    client = Client()
    with CaptureQueriesContext(connection) as counted:
        assert client.get("/api/movies", {"count": "true"}).json()["count"] == 23
    with CaptureQueriesContext(connection) as uncounted:
        body = client.get("/api/movies", {"count": "false"}).json()
    assert body["count"] is None
    assert any("COUNT(" in query["sql"] for query in counted.captured_queries)
    assert not any("COUNT(" in query["sql"] for query in uncounted.captured_queries)
    assert len(uncounted.captured_queries) == len(counted.captured_queries) - 1


async def test_a_movie_added_ahead_does_not_shift_the_next_page(shelf, async_client):
    first = await get(async_client, limit=5)
    second_before = await get(async_client, limit=5, offset=5)
    await Movie.objects.acreate(
        title="Aaron",  # before every title on the first page
        slug="aaron",
        release_date=date(2001, 1, 1),
        rating=50,
        duration=timedelta(minutes=90),
    )
    second = await get(async_client, limit=5, cursor=first["next"])
    assert ids(second) == ids(second_before)
    # An offset would have shifted by the new movie.
    assert ids(await get(async_client, limit=5, offset=5)) != ids(second_before)
    # And back: the previous page of the second is the first as it was, the
    # new movie aside.
    back = await get(async_client, limit=5, cursor=second["previous"])
    assert ids(back) == ids(first)
    assert back["previous"] is not None  # the new movie is before it


async def test_a_movie_added_behind_does_not_shift_the_previous_page(shelf, async_client):
    third = await get(async_client, limit=5, offset=10)
    second_before = await get(async_client, limit=5, offset=5)
    await Movie.objects.acreate(
        title="Zulu",  # after every title
        slug="zulu",
        release_date=date(2001, 1, 1),
        rating=50,
        duration=timedelta(minutes=90),
    )
    second = await get(async_client, limit=5, cursor=third["previous"])
    assert ids(second) == ids(second_before)


async def test_offset_pages_link_to_cursor_pages(shelf, async_client):
    everything = ids(await get(async_client, limit=100))
    page = await get(async_client, limit=3, offset=2)
    assert ids(page) == everything[2:5]
    following = await get(async_client, limit=3, cursor=page["next"])
    assert ids(following) == everything[5:8]
    before = await get(async_client, limit=3, cursor=page["previous"])
    assert ids(before) == everything[:2]
    assert before["previous"] is None
    assert (await get(async_client, limit=3))["previous"] is None


async def test_past_the_end_the_previous_link_is_the_last_page(shelf, async_client):
    everything = ids(await get(async_client, limit=100))
    past = await get(async_client, limit=4, offset=50)
    assert (past["items"], past["next"]) == ([], None)
    last = await get(async_client, limit=4, cursor=past["previous"])
    assert ids(last) == everything[-4:]
    assert last["next"] is None


async def test_the_last_page_has_no_next_link(shelf, async_client):
    assert (await get(async_client, limit=23))["next"] is None
    assert (await get(async_client, limit=22))["next"] is not None
    assert (await get(async_client, limit=23, count="false"))["next"] is None


async def test_filters_come_from_the_query_string(shelf, async_client):
    params = {"genre": "drama", "ordering": "-rating", "limit": 4}
    everything = ids(await get(async_client, **{**params, "limit": 100}))
    assert len(everything) == 11
    first = await get(async_client, **params)
    pages = await walk(async_client, "next", first, **params)
    assert sum(pages, []) == everything


async def test_a_cursor_with_offset_zero_is_accepted(shelf, async_client):
    first = await get(async_client, limit=5)
    second = await get(async_client, limit=5, offset=0, cursor=first["next"])
    assert len(second["items"]) == 5


async def test_a_cursor_with_an_offset_is_a_422(shelf, async_client):
    first = await get(async_client, limit=5)
    response = await async_client.get("/api/movies", {"cursor": first["next"], "offset": 5})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "offset"]
    assert error["type"] == "cursor_with_offset"
    assert "cursor" in error["msg"]


def _flip(cursor: str, index: int) -> str:
    character = "A" if cursor[index] != "A" else "B"
    return cursor[:index] + character + cursor[index + 1 :]


def _unsigned(payload: bytes) -> str:
    return base64.urlsafe_b64encode(b"\0" * 12 + payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("make", "type_", "says"),
    [
        (lambda good: "garbage", "cursor_invalid", "Not a cursor of this API"),
        (lambda good: "A", "cursor_invalid", "Not a cursor of this API"),
        (lambda good: good[:-3], "cursor_invalid", "altered"),
        (lambda good: _flip(good, 20), "cursor_invalid", "altered"),
        (lambda good: _flip(good, 3), "cursor_invalid", "altered"),
        (
            lambda good: _unsigned(
                b'{"list":"movies","order":"title,id","page":"next","key":null}'
            ),
            "cursor_invalid",
            "altered",
        ),
        (
            lambda good: encode_cursor("products", "name,id", "next", ["Mug", 1]),
            "cursor_mismatch",
            "pages through products, not movies",
        ),
        (
            lambda good: encode_cursor("movies", "-rating,-id", "next", [80, 1]),
            "cursor_mismatch",
            "made for the ordering -rating,-id",
        ),
        # Made with the server's key but not by the list (what a leaked key
        # or a bug could produce): still a 422, never a 500.
        (
            lambda good: encode_cursor("movies", "title,id", "sideways", None),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "title,id", "next", ["Alpha"]),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "title,id", "next", ["Alpha", "one"]),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "title,id", "next", ["Alpha", 2**63]),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "title,id", "next", [None, 1]),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "title,id", "next", ["Al\x00pha", 1]),
            "cursor_invalid",
            "Not a cursor",
        ),
        (
            lambda good: encode_cursor("movies", "release_date,id", "next", [1999, 1]),
            "cursor_mismatch",
            "this request orders by title,id",
        ),
    ],
)
async def test_a_cursor_the_list_did_not_make_is_a_422(shelf, async_client, make, type_, says):
    good = (await get(async_client, limit=5))["next"]
    response = await async_client.get("/api/movies", {"cursor": make(good), "limit": 5})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "cursor"]
    assert error["type"] == type_
    assert says in error["msg"]


async def test_a_date_cursor_that_is_not_a_date_is_a_422(shelf, async_client):
    cursor = encode_cursor("movies", "release_date,id", "next", ["1999-13-45", 1])
    response = await async_client.get("/api/movies", {"cursor": cursor, "ordering": "release_date"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize("cursor", ["", "not base64!", "a" * 1401, "abc\x00"])
async def test_a_cursor_outside_the_schema_is_a_422(async_client, cursor):
    response = await async_client.get("/api/movies", {"cursor": cursor})
    assert response.status_code == 422
    assert ["query", "cursor"] in [error["loc"] for error in response.json()["detail"]]


async def test_a_cursor_for_the_longest_title_fits_the_schema(async_client):
    title = "\U0001f3ac" * 200  # four bytes each in UTF-8
    for n in range(2):
        await Movie.objects.acreate(
            title=title,
            slug=f"clapper-{n}",
            release_date=date(2001, 1, 1 + n),
            rating=50,
            duration=timedelta(minutes=90),
        )
    first = await get(async_client, limit=1)
    second = await get(async_client, limit=1, cursor=first["next"])
    assert ids(second) != ids(first)


async def test_openapi_documents_cursor_and_count(async_client):
    schema = (await async_client.get("/api/openapi.json")).json()
    operation = schema["paths"]["/api/movies"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    (cursor_schema, _null) = parameters["cursor"]["schema"]["anyOf"]
    assert cursor_schema["pattern"] == "^[A-Za-z0-9_-]+$"
    assert "ordering" in parameters["cursor"]["description"]
    assert parameters["count"]["schema"]["type"] == "boolean"
    page = schema["components"]["schemas"]["MoviePageOut"]["properties"]
    assert {"items", "count", "next", "previous"} <= set(page)


async def test_cursor_pages_read_natively_in_one_round_trip(shelf, async_client, settings):
    """On PostgreSQL a cursor page is still the one native round trip:
    the page with its genres, and the count unless count=false (the ETag's stamps,
    read before the handler, aside)."""
    settings.API_THROTTLE_ANON = "off"
    if not native_db.native_enabled():
        pytest.skip("native async reads run on PostgreSQL with NATIVE_ASYNC_DB on only")
    first = await get(async_client, limit=5)
    connection.force_debug_cursor = True
    try:
        for count, queries in (("true", 2), ("false", 1)):
            connection.queries_log.clear()
            body = await get(async_client, limit=5, cursor=first["next"], count=count)
            assert len(body["items"]) == 5
            listed = [q for q in connection.queries_log if "caching_tablestamp" not in q["sql"]]
            assert len(listed) == queries
    finally:
        connection.force_debug_cursor = False
