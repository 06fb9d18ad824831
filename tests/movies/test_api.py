"""The movies API as a client sees it: status codes and JSON bodies."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.access.models import api_token_create
from config.runtime import native_db
from conftest import grant
from movies import services
from movies.models import Genre, Movie, Person
from tests.movies.factories import make_genre, make_movie, make_person

# Async handlers run the ORM on another thread: rows must be committed to be
# seen there, and async ORM work is only undone by flushing (pytest-django #580).
pytestmark = pytest.mark.django_db(transaction=True)

ITEM_KEYS = {
    "id",
    "title",
    "slug",
    "release_date",
    "year",
    "rating",
    "duration",
    "director",
    "genres",
}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def titles(response) -> list[str]:
    return [item["title"] for item in response.json()["items"]]


def error_locs(response) -> list[list]:
    return [error["loc"] for error in response.json()["detail"]]


# Reads ------------------------------------------------------------------------


async def test_list_is_paginated_with_a_default_page_size(classics, async_client):
    response = await async_client.get("/api/movies")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "count", "next", "previous"}
    assert body["count"] == 11
    assert len(body["items"]) == 10
    assert [item["title"] for item in body["items"]][:2] == ["12 Angry Men", "Fight Club"]


async def test_list_item_shape(classics, async_client):
    response = await async_client.get("/api/movies", {"q": "matrix"})
    (item,) = response.json()["items"]
    assert set(item) == ITEM_KEYS
    matrix = await Movie.objects.select_related("director").aget(slug="the-matrix")
    assert item == {
        "id": matrix.pk,
        "title": "The Matrix",
        "slug": "the-matrix",
        "release_date": "1999-03-31",
        "year": 1999,
        "rating": 87,
        "duration": "02:16:00",
        "director": {"id": matrix.director.pk, "name": "Lana Wachowski"},
        "genres": [{"slug": "action", "name": "Action"}, {"slug": "sci-fi", "name": "Sci-Fi"}],
    }


async def test_limit_and_offset(classics, async_client):
    everything = titles(await async_client.get("/api/movies", {"limit": 100}))
    assert len(everything) == 11
    page = await async_client.get("/api/movies", {"limit": 3, "offset": 4})
    assert page.json()["count"] == 11
    assert titles(page) == everything[4:7]
    past_the_end = (await async_client.get("/api/movies", {"offset": 50})).json()
    assert (past_the_end["items"], past_the_end["count"], past_the_end["next"]) == ([], 11, None)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"genre": "crime"},
            ["Pulp Fiction", "The Dark Knight", "The Godfather", "The Godfather: Part II"],
        ),
        ({"year": 1994}, ["Pulp Fiction", "Schindler's List", "The Shawshank Redemption"]),
        ({"year_min": 2000}, ["The Dark Knight", "The Lord of the Rings: The Return of the King"]),
        ({"year_max": 1960}, ["12 Angry Men"]),
        ({"year_min": 1970, "year_max": 1979}, ["The Godfather", "The Godfather: Part II"]),
        ({"min_rating": 92}, ["The Godfather", "The Shawshank Redemption"]),
        ({"q": "godfather"}, ["The Godfather", "The Godfather: Part II"]),
        (
            {"genre": "drama", "min_rating": 90, "ordering": "-rating"},
            ["The Shawshank Redemption", "The Godfather", "The Godfather: Part II"],
        ),
        (
            {"ordering": "-release_date", "limit": 3},
            ["The Dark Knight", "The Lord of the Rings: The Return of the King", "Fight Club"],
        ),
        (
            {"ordering": "release_date", "limit": 2},
            ["12 Angry Men", "The Good, the Bad and the Ugly"],
        ),
        ({"genre": "no-such-genre"}, []),
    ],
)
async def test_filters_and_ordering(classics, async_client, params, expected):
    """Without an ordering, results come by title."""
    response = await async_client.get("/api/movies", params)
    assert response.status_code == 200
    assert titles(response) == expected
    if "limit" not in params:
        assert response.json()["count"] == len(expected)


async def test_director_filter(classics, async_client):
    coppola = await Person.objects.aget(name="Francis Ford Coppola")
    response = await async_client.get("/api/movies", {"director": coppola.pk})
    assert titles(response) == ["The Godfather", "The Godfather: Part II"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": "abc"}, "year"),
        ({"year": "1994.5"}, "year"),
        ({"year": 1500}, "year"),
        ({"year": 3000}, "year"),
        ({"year_min": "x"}, "year_min"),
        ({"year_max": 99999}, "year_max"),
        ({"min_rating": 101}, "min_rating"),
        ({"min_rating": -1}, "min_rating"),
        ({"director": "abc"}, "director"),
        ({"director": 0}, "director"),
        ({"director": 2**70}, "director"),
        ({"genre": "not a slug!"}, "genre"),
        ({"q": "x" * 101}, "q"),
        ({"ordering": "created"}, "ordering"),
        ({"ordering": "title; DROP TABLE movies_movie"}, "ordering"),
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**30}, "offset"),
    ],
)
async def test_bad_query_parameters_are_422_naming_the_parameter(async_client, params, field):
    response = await async_client.get("/api/movies", params)
    assert response.status_code == 422
    assert ["query", field] in error_locs(response)


async def test_year_range_must_be_ordered(async_client):
    response = await async_client.get("/api/movies", {"year_min": 2000, "year_max": 1990})
    assert response.status_code == 422
    assert "year_min must not be greater than year_max" in response.json()["detail"][0]["msg"]


def test_list_runs_a_fixed_number_of_queries_whatever_the_page_size(settings):
    settings.API_THROTTLE_ANON = "off"  # count the list's queries, not the rate limit's
    directors = [make_person(f"Director {i}") for i in range(3)]
    genres = [make_genre(f"Genre {i}") for i in range(3)]
    for i in range(25):
        make_movie(f"Film {i:02d}", director=directors[i % 3], genres=genres[: 1 + i % 3])
    client = Client()
    counts = {}
    for limit in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/movies", {"limit": limit})
        assert response.status_code == 200
        items = response.json()["items"]
        assert len(items) == limit
        assert all(item["director"] and item["genres"] for item in items)
        counts[limit] = len(queries)
    assert counts[2] == counts[20]


async def test_get_movie(classics, async_client):
    godfather = await Movie.objects.aget(slug="the-godfather")
    response = await async_client.get(f"/api/movies/{godfather.pk}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ITEM_KEYS
    assert body["title"] == "The Godfather"
    assert body["duration"] == "02:55:00"
    assert body["director"]["name"] == "Francis Ford Coppola"


async def test_unknown_movie_is_a_json_404(async_client):
    response = await async_client.get("/api/movies/424242")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "No movie with id 424242."}


@pytest.mark.parametrize("movie_id", ["abc", "0", "-3", str(2**64), "1.5"])
async def test_malformed_movie_id_is_a_4xx(async_client, movie_id):
    response = await async_client.get(f"/api/movies/{movie_id}")
    assert response.status_code in {404, 422}
    assert "detail" in response.json()


async def test_list_genres(classics, async_client):
    response = await async_client.get("/api/genres")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 7
    assert body["items"][0] == {"slug": "action", "name": "Action"}
    found = await async_client.get("/api/genres", {"q": "sci"})
    assert found.json() == {"items": [{"slug": "sci-fi", "name": "Sci-Fi"}], "count": 1}


async def test_list_people_is_searchable_and_paginated(classics, async_client):
    response = await async_client.get("/api/people", {"limit": 3})
    body = response.json()
    assert body["count"] == 10
    assert [p["name"] for p in body["items"]] == [
        "Christopher Nolan",
        "David Fincher",
        "Francis Ford Coppola",
    ]
    found = await async_client.get("/api/people", {"q": "NOLAN"})
    assert [p["name"] for p in found.json()["items"]] == ["Christopher Nolan"]
    assert (await async_client.get("/api/people", {"limit": 500})).status_code == 422


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_error_is_a_json_500_without_traceback(settings, monkeypatch, debug):
    settings.DEBUG = debug

    def explode(**filters):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("movies.selectors.movie_rows", explode)
    response = Client(raise_request_exception=False).get("/api/movies")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


# Writes -----------------------------------------------------------------------


@pytest.fixture
def refs(db):
    return SimpleNamespace(
        crime=make_genre("Crime"),
        drama=make_genre("Drama"),
        director=make_person("Jean-Pierre Melville"),
    )


@pytest.fixture
def payload(refs):
    return {
        "title": "Le Samouraï",
        "release_date": "1967-10-25",
        "rating": 81,
        "duration": "01:45:00",
        "director_id": refs.director.pk,
        "genres": ["crime", "drama"],
    }


@pytest.fixture
def writer_headers(user, auth_headers):
    grant(user, "movies.add_movie", "movies.change_movie", "movies.delete_movie")
    return auth_headers


def token_with(username, *perms):
    from django.contrib.auth.models import User

    person = User.objects.create_user(username=username, password="correct-horse-battery")
    grant(person, *perms)
    return bearer(api_token_create(user=person)[1])


async def post_json(client, url, data, headers, method="post"):
    return await getattr(client, method)(
        url, data=data, content_type="application/json", headers=headers
    )


async def test_create_movie(async_client, payload, refs, writer_headers):
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ITEM_KEYS
    assert body["slug"] == "le-samourai"
    assert body["year"] == 1967
    assert body["duration"] == "01:45:00"
    assert body["director"] == {"id": refs.director.pk, "name": "Jean-Pierre Melville"}
    assert body["genres"] == [
        {"slug": "crime", "name": "Crime"},
        {"slug": "drama", "name": "Drama"},
    ]
    movie = await Movie.objects.aget(pk=body["id"])
    assert movie.duration == timedelta(minutes=105)
    assert movie.release_date == date(1967, 10, 25)
    fetched = await async_client.get(f"/api/movies/{body['id']}")
    assert fetched.json() == body


async def test_create_accepts_iso_8601_durations_and_an_explicit_slug(
    async_client, payload, writer_headers
):
    payload |= {"duration": "PT1H45M", "slug": "samourai", "genres": [], "director_id": None}
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 201
    assert response.json()["slug"] == "samourai"
    assert response.json()["duration"] == "01:45:00"
    assert response.json()["director"] is None


async def test_writes_need_a_token(async_client, classics):
    payload = {"title": "Anything", "rating": 50}
    movie = await Movie.objects.afirst()
    calls = [
        ("post", "/api/movies"),
        ("put", f"/api/movies/{movie.pk}"),
        ("patch", f"/api/movies/{movie.pk}"),
        ("delete", f"/api/movies/{movie.pk}"),
    ]
    for method, url in calls:
        for headers in ({}, bearer("not-a-real-token"), {"Authorization": "Basic abc"}):
            response = await post_json(async_client, url, payload, headers, method)
            assert response.status_code == 401, (method, headers)
            assert response.json() == {"detail": "Unauthorized"}
    assert await Movie.objects.acount() == 11


async def test_writes_need_the_matching_permission(async_client, classics):
    payload = {
        "title": "Anything",
        "release_date": "2001-01-01",
        "rating": 50,
        "duration": "01:30:00",
    }
    movie = await Movie.objects.afirst()
    from asgiref.sync import sync_to_async

    cases = [
        ("post", "/api/movies", "movies.add_movie", ["movies.change_movie", "movies.delete_movie"]),
        ("put", f"/api/movies/{movie.pk}", "movies.change_movie", ["movies.add_movie"]),
        ("patch", f"/api/movies/{movie.pk}", "movies.change_movie", ["movies.add_movie"]),
        ("delete", f"/api/movies/{movie.pk}", "movies.delete_movie", ["movies.change_movie"]),
    ]
    for n, (method, url, needed, others) in enumerate(cases):
        headers = await sync_to_async(token_with)(f"user{n}", *others)
        response = await post_json(async_client, url, payload, headers, method)
        assert response.status_code == 403, method
        assert needed in response.json()["detail"]
    assert await Movie.objects.acount() == 11
    unchanged = await Movie.objects.aget(pk=movie.pk)
    assert unchanged.title == movie.title and unchanged.updated == movie.updated


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 42}, "title"),
        ({"rating": 101}, "rating"),
        ({"rating": -1}, "rating"),
        ({"rating": "87"}, "rating"),
        ({"rating": 87.5}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": None}, "rating"),
        ({"release_date": "25/10/1967"}, "release_date"),
        ({"release_date": "1967-02-30"}, "release_date"),
        ({"release_date": 1967}, "release_date"),
        ({"release_date": "1700-01-01"}, "release_date"),
        ({"duration": "long"}, "duration"),
        ({"duration": "00:00:00"}, "duration"),
        ({"duration": "-01:00:00"}, "duration"),
        ({"duration": 105}, "duration"),
        ({"duration": "99999:00:00"}, "duration"),
        ({"director_id": "1"}, "director_id"),
        ({"director_id": 0}, "director_id"),
        ({"director_id": 2**64}, "director_id"),
        ({"genres": "crime"}, "genres"),
        ({"genres": [1]}, "genres"),
        ({"genres": ["not a slug"]}, "genres"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"genre": "crime"}, "genre"),  # unknown field: a typo of genres
    ],
)
async def test_invalid_create_is_422_naming_the_field(
    async_client, payload, writer_headers, change, field
):
    payload |= change
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 422, response.content
    assert any(loc[-1] == field or field in loc for loc in error_locs(response))
    assert await Movie.objects.acount() == 0


@pytest.mark.parametrize("missing", ["title", "release_date", "rating", "duration"])
async def test_create_without_a_required_field_is_422(
    async_client, payload, writer_headers, missing
):
    del payload[missing]
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 422
    assert ["body", "payload", missing] in error_locs(response)


@pytest.mark.parametrize("body", ["{not json", '{"title": "x",}', "", "\xff"])
async def test_malformed_json_body_is_a_4xx(async_client, writer_headers, body):
    response = await async_client.post(
        "/api/movies", data=body, content_type="application/json", headers=writer_headers
    )
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()
    assert await Movie.objects.acount() == 0


@pytest.mark.parametrize("body", ["[]", '"movie"', "42", "null"])
async def test_json_that_is_not_an_object_is_422(async_client, writer_headers, body):
    response = await async_client.post(
        "/api/movies", data=body, content_type="application/json", headers=writer_headers
    )
    assert response.status_code in {400, 422}
    assert "detail" in response.json()


async def test_unknown_genres_and_director_are_422_naming_them(
    async_client, payload, writer_headers
):
    payload |= {"genres": ["crime", "space-opera", "mumblecore"], "director_id": 987654}
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 422
    errors = {tuple(error["loc"]): error for error in response.json()["detail"]}
    assert "space-opera, mumblecore" in errors[("body", "payload", "genres")]["msg"]
    assert "987654" in errors[("body", "payload", "director_id")]["msg"]
    assert await Movie.objects.acount() == 0
    assert not await Genre.objects.filter(slug="space-opera").aexists()


async def test_duplicate_title_and_release_date_is_409(async_client, payload, writer_headers):
    first = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert first.status_code == 201
    again = await post_json(async_client, "/api/movies", payload | {"rating": 1}, writer_headers)
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    assert await Movie.objects.acount() == 1
    assert (await Movie.objects.aget()).rating == 81


async def test_duplicate_slug_is_409(async_client, payload, writer_headers):
    await sync_make_movie("Other", slug="taken")
    response = await post_json(
        async_client, "/api/movies", payload | {"slug": "taken"}, writer_headers
    )
    assert response.status_code == 409
    assert "taken" in response.json()["detail"]
    assert await Movie.objects.acount() == 1


async def test_a_failing_write_leaves_nothing_behind(
    async_client, payload, writer_headers, monkeypatch
):
    """The movie row is inserted, then the write fails: the whole service is
    one transaction, so the row is gone too."""
    real_save = services._save

    def save_then_crash(movie):
        real_save(movie)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "_save", save_then_crash)
    response = await post_json(async_client, "/api/movies", payload, writer_headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert await Movie.objects.acount() == 0


async def sync_make_movie(*args, **kwargs):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_movie)(*args, **kwargs)


async def test_put_replaces_the_movie_but_keeps_its_slug(
    async_client, payload, refs, writer_headers
):
    movie = await sync_make_movie(
        "Samurai", slug="samurai", director=refs.director, genres=[refs.crime]
    )
    replacement = payload | {"title": "Le Samouraï (restored)", "rating": 90}
    del replacement["director_id"], replacement["genres"]
    response = await post_json(
        async_client, f"/api/movies/{movie.pk}", replacement, writer_headers, "put"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Le Samouraï (restored)"
    assert body["rating"] == 90
    assert body["slug"] == "samurai"
    assert body["director"] is None
    assert body["genres"] == []


async def test_put_needs_every_required_field(async_client, writer_headers):
    movie = await sync_make_movie("Samurai")
    response = await post_json(
        async_client, f"/api/movies/{movie.pk}", {"title": "Only a title"}, writer_headers, "put"
    )
    assert response.status_code == 422
    locs = error_locs(response)
    assert ["body", "payload", "rating"] in locs and ["body", "payload", "duration"] in locs
    assert (await Movie.objects.aget(pk=movie.pk)).title == "Samurai"


async def test_patch_changes_only_what_is_sent(async_client, refs, writer_headers):
    movie = await sync_make_movie(
        "Army of Shadows", director=refs.director, genres=[refs.drama], rating=80
    )
    response = await post_json(
        async_client, f"/api/movies/{movie.pk}", {"rating": 95}, writer_headers, "patch"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["rating"] == 95
    assert body["title"] == "Army of Shadows"
    assert body["director"]["name"] == "Jean-Pierre Melville"
    assert body["genres"] == [{"slug": "drama", "name": "Drama"}]


async def test_patch_can_clear_the_director_and_set_genres(async_client, refs, writer_headers):
    movie = await sync_make_movie("Le Cercle Rouge", director=refs.director)
    response = await post_json(
        async_client,
        f"/api/movies/{movie.pk}",
        {"director_id": None, "genres": ["crime"]},
        writer_headers,
        "patch",
    )
    assert response.status_code == 200
    assert response.json()["director"] is None
    assert response.json()["genres"] == [{"slug": "crime", "name": "Crime"}]


@pytest.mark.parametrize(
    "change",
    [
        {"title": None},
        {"rating": None},
        {"genres": None},
        {"rating": 101},
        {"duration": "0:00"},
        {"genres": ["unknown-genre"]},
        {"director_id": 987654},
        {"unknown": 1},
    ],
)
async def test_invalid_patch_is_422_and_changes_nothing(async_client, refs, writer_headers, change):
    movie = await sync_make_movie("Bob le flambeur", genres=[refs.crime], rating=77)
    response = await post_json(
        async_client, f"/api/movies/{movie.pk}", change, writer_headers, "patch"
    )
    assert response.status_code == 422
    after = await Movie.objects.prefetch_related("genres").aget(pk=movie.pk)
    assert (after.title, after.rating, after.updated) == ("Bob le flambeur", 77, movie.updated)
    assert [genre.slug for genre in after.genres.all()] == ["crime"]


async def test_patch_into_an_existing_title_and_date_is_409(async_client, writer_headers):
    await sync_make_movie("Twin", release_date=date(2000, 1, 1))
    other = await sync_make_movie("Other", release_date=date(2000, 1, 1))
    response = await post_json(
        async_client, f"/api/movies/{other.pk}", {"title": "Twin"}, writer_headers, "patch"
    )
    assert response.status_code == 409
    assert (await Movie.objects.aget(pk=other.pk)).title == "Other"


async def test_delete_movie(async_client, writer_headers):
    movie = await sync_make_movie("Doomed")
    response = await async_client.delete(f"/api/movies/{movie.pk}", headers=writer_headers)
    assert response.status_code == 204
    assert response.content == b""
    assert not await Movie.objects.filter(pk=movie.pk).aexists()
    again = await async_client.delete(f"/api/movies/{movie.pk}", headers=writer_headers)
    assert again.status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
async def test_writes_to_an_unknown_movie_are_404(async_client, payload, writer_headers, method):
    response = await post_json(async_client, "/api/movies/424242", payload, writer_headers, method)
    assert response.status_code == 404
    assert response.json() == {"detail": "No movie with id 424242."}


async def test_openapi_documents_the_movie_endpoints(async_client):
    schema = (await async_client.get("/api/openapi.json")).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/movies"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/movies/{movie_id}"])
    assert "/api/genres" in paths and "/api/people" in paths
    operation_ids = {op["operationId"] for path in paths.values() for op in path.values()}
    assert {
        "movies_api_list_movies",
        "movies_api_get_movie",
        "movies_api_create_movie",
        "movies_api_update_movie",
        "movies_api_partial_update_movie",
        "movies_api_delete_movie",
        "movies_api_list_genres",
        "movies_api_list_people",
    } <= operation_ids


@pytest.mark.django_db(transaction=True)
async def test_list_reads_natively_with_two_queries_whatever_the_page_size(async_client, settings):
    """On PostgreSQL the list is served by config.runtime.native_db (no thread hop):
    the page with its genres, and the count, logged like Django's own queries."""
    settings.API_THROTTLE_ANON = "off"  # count the list's queries, not the rate limit's
    if not native_db.native_enabled():
        pytest.skip("native async reads run on PostgreSQL with NATIVE_ASYNC_DB on only")
    directors = [await Person.objects.acreate(name=f"Director {i}") for i in range(3)]
    for i in range(25):
        movie = await Movie.objects.acreate(
            title=f"Film {i:02d}",
            slug=f"film-{i:02d}",
            release_date=date(2000, 1, 1 + i),
            rating=50,
            duration=timedelta(minutes=90),
            director=directors[i % 3],
        )
        genre, _ = await Genre.objects.aget_or_create(name=f"Genre {i % 3}", slug=f"genre-{i % 3}")
        await movie.genres.aadd(genre)
    counts = {}
    # CaptureQueriesContext would open a sync connection from the event loop;
    # switch on the same query log by hand.
    connection.force_debug_cursor = True
    try:
        for limit in (2, 20):
            connection.queries_log.clear()
            response = await async_client.get("/api/movies", {"limit": limit})
            assert response.status_code == 200
            body = response.json()
            assert len(body["items"]) == limit
            assert body["count"] == 25
            assert all(item["director"] and item["genres"] for item in body["items"])
            # The ETag's version stamps (config/caching/), read before the
            # handler, aside.
            counts[limit] = [
                query["sql"]
                for query in connection.queries_log
                if "caching_tablestamp" not in query["sql"]
            ]
    finally:
        connection.force_debug_cursor = False
    assert len(counts[2]) == len(counts[20]) == 2
