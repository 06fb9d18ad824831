"""Concurrent native reads share round trips (native_db.SharedRoundTrips):
each request still gets its own rows, its own error, and nothing another
request wrote is lost."""

import asyncio
from types import SimpleNamespace

import psycopg
import pytest
from django.contrib.auth.models import User
from psycopg_pool import PoolTimeout

from config.runtime import native_db
from movies import selectors
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def round_trips(monkeypatch):
    """The batches that went to the database, as their statement counts."""
    batches: list[int] = []
    execute = native_db._execute

    async def counted(pool, statements):
        batches.append(len(statements))
        return await execute(pool, statements)

    monkeypatch.setattr(native_db, "_execute", counted)
    return batches


@pytest.fixture
def films():
    return [make_movie(f"Film {i:02}") for i in range(30)]


async def _title_of(movie_id):
    (rows,), _ = await native_db.evaluate(selectors.movie_row(movie_id))
    return [row["title"] for row in rows]


async def test_concurrent_reads_share_round_trips_and_get_their_own_rows(
    native, films, round_trips
):
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert len(round_trips) < len(films)
    assert sum(round_trips) == len(films)  # a statement per read
    assert max(round_trips) > 2  # at least one round trip carried several requests


async def test_with_sharing_off_each_read_has_a_round_trip_of_its_own(
    native, films, round_trips, settings
):
    settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS = 1
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert len(round_trips) == len(films)


async def test_no_round_trip_carries_more_requests_than_the_setting_allows(
    native, films, round_trips, settings
):
    settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS = 3
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert max(round_trips) <= 3  # one statement per read


@pytest.fixture
def counted_user():
    return User.objects.create_user(username="counted", first_name="before")


async def test_a_failing_statement_fails_its_own_request_only(
    native, films, counted_user, round_trips
):
    reads = [_title_of(film.pk) for film in films[:10]]
    failing = native_db.execute("SELECT id FROM no_such_table")
    write = native_db.execute(
        "UPDATE auth_user SET first_name = %s WHERE username = %s", ["after", "counted"]
    )
    *titles, error, written = await asyncio.gather(*reads, failing, write, return_exceptions=True)
    assert titles == [[film.title] for film in films[:10]]
    assert isinstance(error, psycopg.errors.UndefinedTable)
    assert written == []
    assert (await User.objects.aget(username="counted")).first_name == "after"
    assert max(round_trips) > 2  # they did share a round trip, which failed


async def test_a_caller_that_goes_away_leaves_the_others_their_rows(native, films):
    tasks = [asyncio.ensure_future(_title_of(film.pk)) for film in films[:12]]
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 3] == [
        [film.title] for i, film in enumerate(films[:12]) if i != 3
    ]


async def test_a_request_left_waiting_beyond_the_pool_timeout_is_refused(monkeypatch):
    """One connection, one request per round trip, and a database that takes
    longer than the pool's timeout: the requests behind the first are refused
    as psycopg's pool refuses them."""

    async def slow(pool, statements):
        await asyncio.sleep(0.1)
        return [[("row",)] for _ in statements]

    monkeypatch.setattr(native_db, "_execute", slow)
    shared = native_db.SharedRoundTrips(SimpleNamespace(max_size=1, timeout=0.05), limit=1)
    results = await asyncio.gather(
        *(shared.run([("SELECT %s", (n,))]) for n in range(3)), return_exceptions=True
    )
    assert results[0] == [[("row",)]]
    assert all(isinstance(result, PoolTimeout) for result in results[1:])
    assert "couldn't get a connection after 0.05 sec" in str(results[1])
    assert shared.running == 0
