"""Concurrent native reads share round trips (native_db.SharedRoundTrips):
each request still gets its own rows, its own error, and nothing another
request wrote is lost."""

import asyncio
from types import SimpleNamespace

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Random
from psycopg_pool import PoolTimeout

from config.runtime import native_db
from movies import selectors
from movies.models import Movie
from tests.movies.factories import make_movie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    """The batches that went to the database, as their statements (but the
    one reading what RepeatedReads needs of the catalog)."""
    batches: list[list[tuple[str, tuple]]] = []
    execute = native_db._execute

    async def recorded(pool, statements):
        if statements != native_db.REPEATS_CATALOG:
            batches.append(list(statements))
        return await execute(pool, statements)

    monkeypatch.setattr(native_db, "_execute", recorded)
    return batches


@pytest.fixture
def films():
    return [make_movie(f"Film {i:02}") for i in range(30)]


async def _title_of(movie_id):
    (rows,), _ = await native_db.evaluate(selectors.movie_row(movie_id))
    return [row["title"] for row in rows]


async def test_concurrent_reads_share_round_trips_and_get_their_own_rows(native, films, sent):
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert len(sent) < len(films)
    assert sum(map(len, sent)) == len(films)  # a statement per read
    assert max(map(len, sent)) > 2  # at least one round trip carried several requests


async def test_with_sharing_off_each_read_has_a_round_trip_of_its_own(
    native, films, sent, settings
):
    settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS = 1
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert len(sent) == len(films)


async def test_no_round_trip_carries_more_requests_than_the_setting_allows(
    native, films, sent, settings
):
    settings.NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS = 3
    titles = await asyncio.gather(*(_title_of(film.pk) for film in films))
    assert titles == [[film.title] for film in films]
    assert max(map(len, sent)) <= 3  # one statement per read


@pytest.fixture
def counted_user():
    return User.objects.create_user(username="counted", first_name="before")


async def test_a_failing_statement_fails_its_own_request_only(native, films, counted_user, sent):
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
    assert max(map(len, sent)) > 2  # they did share a round trip, which failed


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


def _first_names():
    return User.objects.filter(username="counted").values("first_name")


async def _first_name(*, writing: str | None = None):
    if writing is None:
        (rows,), _ = await native_db.evaluate(_first_names())
    else:
        rename = "UPDATE auth_user SET first_name = %s WHERE username = %s"
        with native_db.run_along(rename, [writing, "counted"]):
            (rows,), _ = await native_db.evaluate(_first_names())
    return rows[0]["first_name"]


def _reads_sent(sent) -> list[str]:
    return [sql for batch in sent for sql, _ in batch if sql.lstrip().startswith("SELECT")]


async def test_identical_reads_of_one_round_trip_are_sent_once_and_all_get_the_rows(
    native, films, sent
):
    same = films[0]
    titles = await asyncio.gather(*(_title_of(same.pk) for _ in range(12)))
    assert titles == [[same.title]] * 12
    assert len(_reads_sent(sent)) < 12
    assert len(sent) < 12


async def test_with_repeated_reads_not_shared_each_read_is_sent(native, films, sent, settings):
    settings.NATIVE_ASYNC_DB_SHARE_REPEATED_READS = False
    same = films[0]
    titles = await asyncio.gather(*(_title_of(same.pk) for _ in range(12)))
    assert titles == [[same.title]] * 12
    assert len(_reads_sent(sent)) == 12
    assert len(sent) < 12  # the round trips are still shared


async def test_a_read_after_a_write_to_its_table_sees_the_write(native, counted_user, sent):
    before, written, after = await asyncio.gather(
        _first_name(), _first_name(writing="after"), _first_name()
    )
    assert len(sent) == 1  # one round trip: one snapshot, the write inside it
    # The write runs after its own request's read, so that read and the one
    # before see the old name; the read after it sees the new one.
    assert (before, written, after) == ("before", "before", "after")
    assert (await User.objects.aget(username="counted")).first_name == "after"


async def test_a_write_to_another_table_leaves_the_reads_shared(native, films, counted_user, sent):
    same = films[0]

    async def read_and_rename():
        rename = "UPDATE auth_user SET first_name = %s WHERE username = %s"
        with native_db.run_along(rename, ["renamed", "counted"]):
            return await _title_of(same.pk)

    titles = await asyncio.gather(_title_of(same.pk), read_and_rename(), _title_of(same.pk))
    assert titles == [[same.title]] * 3
    assert len(sent) == 1
    assert len(_reads_sent(sent)) == 1
    assert (await User.objects.aget(username="counted")).first_name == "renamed"


async def test_a_write_to_a_table_with_triggers_ends_all_sharing(native, films, sent):
    """catalog_category's trigger stamps it in caching_tablestamp: what it
    changes is not named in the write."""
    same = films[0]

    async def read_and_touch_categories():
        touch = "UPDATE catalog_category SET name = name WHERE id = %s"
        with native_db.run_along(touch, [-1]):
            return await _title_of(same.pk)

    titles = await asyncio.gather(
        _title_of(same.pk), read_and_touch_categories(), _title_of(same.pk)
    )
    assert titles == [[same.title]] * 3
    assert len(sent) == 1
    assert len(_reads_sent(sent)) == 2  # the first two share; the third comes after the write


async def test_reads_that_call_a_volatile_function_are_each_sent(native, films, sent):
    same = films[0]

    async def random_of_movie():
        queryset = Movie.objects.filter(pk=same.pk).annotate(draw=Random()).values("draw")
        (rows,), _ = await native_db.evaluate(queryset)
        return rows[0]["draw"]

    draws = await asyncio.gather(*(random_of_movie() for _ in range(8)))
    assert len(set(draws)) == 8
    assert len(_reads_sent(sent)) == 8


READ = native_db.RepeatedReads.READ


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ('SELECT "movies_movie"."title" FROM "movies_movie" WHERE "id" = %s', READ),
        ('SELECT "t"."random_pick" FROM "t"', READ),
        ("select count(*) from (select 1) as counted", READ),
        ("SELECT RANDOM()", None),
        ("SELECT pg_catalog.nextval('movies_movie_id_seq')", None),
        ('SELECT "nextval" (%s)', None),
        ('UPDATE "auth_user" SET "first_name" = %s', "auth_user"),
        ('update "public"."auth_user" set first_name = %s', "auth_user"),
        ("DELETE FROM ONLY Config_RateCounter WHERE key = %s", "config_ratecounter"),
        ('INSERT INTO "a""b" (key) VALUES (%s)', 'a"b'),
        ('UPDATE "movies_movie" SET "title" = %s', None),  # it has triggers
        ("INSERT INTO auth_user (last_login) VALUES (clock_timestamp())", None),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", None),
        ("SET statement_timeout = 0", None),
    ],
)
def test_what_counts_as_a_read_and_which_table_a_write_writes(sql, kind):
    repeats = native_db.RepeatedReads(
        ["random", "nextval", "clock_timestamp"], ["auth_user", "config_ratecounter", 'a"b']
    )
    assert repeats.kind(sql) == kind


def test_a_plan_sends_each_read_once_until_a_write_to_a_table_it_names():
    repeats = native_db.RepeatedReads(["random"], ["a", "b"])
    read_a = ('SELECT * FROM "a" WHERE id = %s', (1,))
    read_b = ('SELECT * FROM "b"', ())
    write_a = ('UPDATE "a" SET x = 1', ())
    unknown = ("SET x = 1", ())
    sent, answers = repeats.plan(
        [read_a, read_b, read_a, write_a, read_a, read_b, unknown, read_b, read_b]
    )
    assert sent == [read_a, read_b, write_a, read_a, unknown, read_b]
    assert answers == [0, 1, 0, 2, 3, 1, 4, 5, 5]
