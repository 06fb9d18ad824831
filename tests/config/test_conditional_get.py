"""Conditional GETs on the public API (config/caching/): ETag, If-None-Match
and 304, Cache-Control and Vary, and the version stamps behind the tags."""

import contextlib
import threading

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection, transaction

from catalog.models import Category, Product
from config.access.models import api_token_create
from config.caching import conditional
from config.caching.conditional import versions_of
from config.caching.models import TableStamp
from config.caching.triggers import install, tracked_tables
from config.runtime import native_db
from conftest import grant
from movies import selectors
from movies.models import Genre, Movie, Person
from tests.catalog.factories import make_category, make_product
from tests.config.test_cors import ORIGIN, cors_on  # noqa: F401 (a fixture)
from tests.config.test_settings import run_python
from tests.live import uvicorn_server
from tests.movies.factories import make_genre, make_movie, make_person

# Async handlers read committed rows on other connections.
pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def rows(db):
    """One of everything the public reads show."""
    director = make_person("Sidney Lumet")
    drama = make_genre("Drama")
    make_genre("Crime")
    movie = make_movie("12 Angry Men", director=director, genres=[drama])
    category = make_category(name="Books", slug="books")
    product = make_product(category=category, name="A Book", slug="a-book")
    return {"movie": movie, "director": director, "product": product, "category": category}


def public_paths(rows) -> list[str]:
    return [
        "/api/movies",
        f"/api/movies/{rows['movie'].pk}",
        "/api/genres",
        "/api/people",
        "/api/categories",
        "/api/products",
        f"/api/products/{rows['product'].pk}",
    ]


def vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",") if part.strip()}


async def etag_of(async_client, path: str, **query) -> str:
    response = await async_client.get(path, query)
    assert response.status_code == 200, response.content
    return response["ETag"]


# Headers on every public read ---------------------------------------------------


async def test_every_public_read_has_an_etag_and_public_cache_control(rows, async_client):
    for path in public_paths(rows):
        response = await async_client.get(path)
        assert response.status_code == 200, path
        assert response["ETag"].startswith('"') and response["ETag"].endswith('"'), path
        assert response["Cache-Control"] == "public, max-age=0", path
        assert "authorization" in vary(response), path


async def test_a_matching_tag_is_a_304_with_the_headers_and_no_body(rows, async_client):
    for path in public_paths(rows):
        etag = await etag_of(async_client, path)
        response = await async_client.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 304, path
        assert response.content == b"", path
        assert response["ETag"] == etag
        assert response["Cache-Control"] == "public, max-age=0"
        assert "authorization" in vary(response)


async def test_if_none_match_star_weak_tags_and_lists_match(rows, async_client):
    etag = await etag_of(async_client, "/api/movies")
    for value in ("*", f"W/{etag}", f'"something-else", {etag}', f' W/"x" ,W/{etag} '):
        response = await async_client.get("/api/movies", headers={"If-None-Match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response["ETag"] == etag


async def test_a_stale_or_unparsable_tag_gets_the_page(rows, async_client):
    for value in ('"stale"', 'W/"stale"', "not a tag", ""):
        response = await async_client.get("/api/movies", headers={"If-None-Match": value})
        assert response.status_code == 200, value
        assert response.json()["items"]


async def test_star_on_a_missing_movie_is_its_404(rows, async_client):
    response = await async_client.get("/api/movies/999999", headers={"If-None-Match": "*"})
    assert response.status_code == 404
    assert response["Cache-Control"] == "private, no-store"
    assert "ETag" not in response


async def test_head_answers_like_get(rows, async_client):
    etag = await etag_of(async_client, "/api/genres")
    head = await async_client.head("/api/genres")
    assert head.status_code == 200
    assert head["ETag"] == etag
    not_modified = await async_client.head("/api/genres", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""


async def test_a_304_does_not_run_the_handler(rows, async_client, monkeypatch):
    etag = await etag_of(async_client, "/api/movies")

    def no_rows(**filters):
        raise AssertionError("the page's rows were read")

    monkeypatch.setattr(selectors, "movie_rows", no_rows)
    response = await async_client.get("/api/movies", headers={"If-None-Match": etag})
    assert response.status_code == 304


async def test_a_304_reads_the_stamps_alone(rows, async_client, settings):
    """Logged like Django's own queries when they are read natively."""
    if not native_db.native_enabled():
        pytest.skip("native async reads run on PostgreSQL with NATIVE_ASYNC_DB on only")
    settings.API_THROTTLE_ANON = "off"  # the rate limit's queries are not the page's
    etag = await etag_of(async_client, "/api/movies")
    # CaptureQueriesContext would open a sync connection from the event loop;
    # switch on the same query log by hand (as tests/movies/test_api.py does).
    connection.force_debug_cursor = True
    try:
        connection.queries_log.clear()
        response = await async_client.get("/api/movies", headers={"If-None-Match": etag})
        queries = [query["sql"] for query in connection.queries_log]
    finally:
        connection.force_debug_cursor = False
    assert response.status_code == 304
    assert len(queries) == 1 and "caching_tablestamp" in queries[0], queries


@pytest.mark.usefixtures("cors_on")
async def test_cors_keeps_its_vary_and_headers_on_a_304(rows, async_client):
    headers = {"Origin": ORIGIN}
    response = await async_client.get("/api/movies", headers=headers)
    assert {"origin", "authorization"} <= vary(response)
    again = await async_client.get(
        "/api/movies", headers={**headers, "If-None-Match": response["ETag"]}
    )
    assert again.status_code == 304
    assert again["Access-Control-Allow-Origin"] == ORIGIN
    assert {"origin", "authorization"} <= vary(again)


async def test_stamps_out_of_reach_are_the_apis_503(rows, async_client, monkeypatch):
    # A request with If-None-Match reads the stamps before the handler (one
    # without has them read along with the handler's rows: its failure is the
    # handler's, the same 503).
    async def unavailable(app_label):
        raise OperationalError("connection refused")

    monkeypatch.setattr(conditional, "versions_of", unavailable)
    response = await async_client.get("/api/movies", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert response["Retry-After"]
    assert response["Cache-Control"] == "private, no-store"


async def test_max_age_comes_from_the_setting(rows, async_client, settings):
    settings.API_CACHE_MAX_AGE = 60
    response = await async_client.get("/api/products")
    assert response["Cache-Control"] == "public, max-age=60"
    again = await async_client.get("/api/products", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304
    assert again["Cache-Control"] == "public, max-age=60"


async def test_each_address_has_its_own_tag(rows, async_client):
    tags = {
        await etag_of(async_client, "/api/movies"),
        await etag_of(async_client, "/api/movies", limit=1),
        await etag_of(async_client, "/api/movies", limit=2),
        await etag_of(async_client, "/api/products"),
    }
    assert len(tags) == 4
    # The same address and data: the same tag, however often it is asked.
    assert await etag_of(async_client, "/api/movies", limit=1) == await etag_of(
        async_client, "/api/movies", limit=1
    )


# Reads with a token, writes ------------------------------------------------------


async def test_reads_with_a_token_are_private_and_untagged(rows, async_client, auth_headers):
    etag = await etag_of(async_client, "/api/movies")
    for path in [*public_paths(rows), "/api/orders"]:
        response = await async_client.get(path, headers={**auth_headers, "If-None-Match": etag})
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "private, no-store", path
        assert "ETag" not in response, path
        assert "authorization" in vary(response), path


async def test_orders_without_a_token_are_a_private_401(rows, async_client):
    response = await async_client.get("/api/orders", headers={"If-None-Match": "*"})
    assert response.status_code == 401
    assert response["Cache-Control"] == "private, no-store"
    assert "ETag" not in response


async def test_refusals_are_private(rows, async_client):
    unknown = await async_client.get("/api/movies", {"yaer": 1999})
    assert unknown.status_code == 422
    not_allowed = await async_client.delete("/api/genres")
    assert not_allowed.status_code == 405
    for response in (unknown, not_allowed):
        assert response["Cache-Control"] == "private, no-store"
        assert "ETag" not in response


async def test_writes_are_private_and_untagged(rows, async_client, user):
    await sync_to_async(grant)(user, "movies.add_movie")
    _, token = await sync_to_async(api_token_create)(user=user)
    response = await async_client.post(
        "/api/movies",
        {"title": "Serpico", "release_date": "1973-12-05", "rating": 77, "duration": "PT2H10M"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "private, no-store"
    assert "ETag" not in response
    assert "authorization" in vary(response)


# A change anywhere a page looks changes its tag --------------------------------------


async def test_creating_a_movie_through_the_api_changes_the_list_tag(rows, async_client, user):
    before = await etag_of(async_client, "/api/movies")
    await sync_to_async(grant)(user, "movies.add_movie")
    _, token = await sync_to_async(api_token_create)(user=user)
    created = await async_client.post(
        "/api/movies",
        {"title": "Serpico", "release_date": "1973-12-05", "rating": 77, "duration": "PT2H10M"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.content
    response = await async_client.get("/api/movies", headers={"If-None-Match": before})
    assert response.status_code == 200
    assert "Serpico" in [item["title"] for item in response.json()["items"]]
    assert response["ETag"] != before


async def test_editing_a_movie_through_the_api_changes_its_tags(rows, async_client, user):
    detail = f"/api/movies/{rows['movie'].pk}"
    before = [await etag_of(async_client, path) for path in ("/api/movies", detail)]
    await sync_to_async(grant)(user, "movies.change_movie")
    _, token = await sync_to_async(api_token_create)(user=user)
    edited = await async_client.patch(
        detail,
        {"rating": 99},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert edited.status_code == 200, edited.content
    after = [await etag_of(async_client, path) for path in ("/api/movies", detail)]
    assert after[0] != before[0] and after[1] != before[1]


async def test_renaming_the_director_changes_the_movie_pages(rows, async_client):
    detail = f"/api/movies/{rows['movie'].pk}"
    before = {path: await etag_of(async_client, path) for path in ("/api/movies", detail)}
    director = await Person.objects.aget(pk=rows["director"].pk)
    director.name = "Sidney Arthur Lumet"
    await director.asave()
    for path, etag in before.items():
        response = await async_client.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 200, path
        assert "Sidney Arthur Lumet" in response.content.decode()
        assert response["ETag"] != etag


async def test_renaming_a_category_changes_the_product_pages(rows, async_client):
    detail = f"/api/products/{rows['product'].pk}"
    paths = ("/api/products", detail, "/api/categories")
    before = {path: await etag_of(async_client, path) for path in paths}
    category = await Category.objects.aget(pk=rows["category"].pk)
    category.name = "Rare books"
    await category.asave()
    for path, etag in before.items():
        response = await async_client.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 200, path
        assert "Rare books" in response.content.decode()


async def test_a_queryset_update_changes_the_tag(rows, async_client):
    before = await etag_of(async_client, f"/api/products/{rows['product'].pk}")
    await Product.objects.filter(pk=rows["product"].pk).aupdate(stock=3)
    assert await etag_of(async_client, f"/api/products/{rows['product'].pk}") != before


async def test_adding_a_genre_to_a_movie_changes_its_tag(rows, async_client):
    detail = f"/api/movies/{rows['movie'].pk}"
    before = await etag_of(async_client, detail)
    crime = await Genre.objects.aget(slug="crime")
    movie = await Movie.objects.aget(pk=rows["movie"].pk)
    await movie.genres.aadd(crime)
    response = await async_client.get(detail, headers={"If-None-Match": before})
    assert response.status_code == 200
    assert "crime" in [genre["slug"] for genre in response.json()["genres"]]


async def test_a_change_to_the_other_app_keeps_the_tag(rows, async_client):
    before = await etag_of(async_client, "/api/movies")
    await Category.objects.filter(pk=rows["category"].pk).aupdate(name="Other")
    response = await async_client.get("/api/movies", headers={"If-None-Match": before})
    assert response.status_code == 304


# The stamps themselves --------------------------------------------------------------


async def test_versions_of_changes_with_its_own_app_only(rows):
    movies, catalog = await versions_of("movies"), await versions_of("catalog")
    await Person.objects.filter(pk=rows["director"].pk).aupdate(name="Someone")
    assert await versions_of("movies") != movies
    assert await versions_of("catalog") == catalog


def test_raw_sql_and_deletes_change_the_version_and_a_rollback_does_not(rows):
    def version():
        return versions_of_sync("movies")

    start = version()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE movies_genre SET name = name")
    after_raw = version()
    assert after_raw != start
    with pytest.raises(RuntimeError), transaction.atomic():
        Genre.objects.all().delete()
        raise RuntimeError("undo")
    assert version() == after_raw
    Movie.objects.all().delete()  # a cascade through the genres table
    assert version() != after_raw


def versions_of_sync(app_label: str) -> list[int]:
    """What versions_of reads, from sync code."""
    stamps = TableStamp.objects.filter(table_name__in=tracked_tables(app_label))
    return sorted(stamps.values_list("id", flat=True))


def test_installing_again_changes_nothing(rows):
    install()
    install()
    before = versions_of_sync("movies")
    Person.objects.filter(pk=rows["director"].pk).update(name="Someone")
    assert versions_of_sync("movies") != before
    # Each table keeps few stamps: the older ones go as new ones come.
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, COUNT(*) FROM caching_tablestamp GROUP BY table_name")
        assert all(count == 1 for _, count in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRESQL, reason="concurrent writers need PostgreSQL")
def test_writers_of_one_table_never_wait_for_each_others_stamps(rows):
    """A transaction holding a stamp of movies_movie does not block another
    writer of it, nor one that touches the tables in the other order."""
    holding = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def hold_a_stamp():
        try:
            with transaction.atomic():
                Movie.objects.filter(pk=rows["movie"].pk).update(rating=1)
                Person.objects.filter(pk=rows["director"].pk).update(name="A")
                holding.set()
                release.wait(10)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_a_stamp)
    thread.start()
    try:
        assert holding.wait(10)
        before = versions_of_sync("movies")
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            Person.objects.exclude(pk=rows["director"].pk).update(name="B")
            make_movie("Another")
        # Ours committed while the other is still open: a new version.
        assert versions_of_sync("movies") != before
    finally:
        release.set()
        thread.join(10)
    assert not errors


@pytest.mark.live
def test_two_servers_give_one_tag_and_a_bodiless_304(rows):
    """Real uvicorn servers on one database: the tag one gives is a 304 on
    the other, with nothing after the head; a rename changes it on both."""
    with contextlib.ExitStack() as servers:
        one, other = (servers.enter_context(uvicorn_server()) for _ in range(2))
        detail = f"/api/movies/{rows['movie'].pk}"
        first = httpx.get(one + detail)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert httpx.get(other + detail).headers["ETag"] == etag
        not_modified = httpx.get(other + detail, headers={"If-None-Match": etag})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["ETag"] == etag
        Person.objects.filter(pk=rows["director"].pk).update(name="Sidney Arthur Lumet")
        for server in (one, other):
            changed = httpx.get(server + detail, headers={"If-None-Match": etag})
            assert changed.status_code == 200
            assert changed.json()["director"]["name"] == "Sidney Arthur Lumet"


# Settings and schema --------------------------------------------------------------------


def test_an_invalid_max_age_stops_start_up():
    code = "import django; django.setup()"
    for value in ("-1", "1.5", "soon", "²"):
        result = run_python(code, DJANGO_SECRET_KEY="x" * 50, API_CACHE_MAX_AGE=value)
        assert result.returncode != 0, value
        assert "API_CACHE_MAX_AGE must be a whole number of seconds" in result.stderr
    ok = run_python(
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.API_CACHE_MAX_AGE)",
        DJANGO_SECRET_KEY="x" * 50,
        API_CACHE_MAX_AGE="300",
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "300"


def test_the_schema_documents_the_304_for_public_reads_only(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/movies", "/api/movies/{movie_id}", "/api/products", "/api/genres"):
        responses = paths[path]["get"]["responses"]
        assert "304" in responses, path
        assert set(responses["304"]["headers"]) == {"ETag", "Cache-Control"}
        assert "ETag" in responses["200"]["headers"]
    assert "304" not in paths["/api/orders"]["get"]["responses"]
    assert "304" not in paths["/api/movies"]["post"]["responses"]
