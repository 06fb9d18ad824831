"""config.runtime.native_db.evaluate gives the same rows as the ORM, natively on
PostgreSQL and through the async ORM elsewhere, and its SQL cache never lets
one queryset's rows answer another's."""

import asyncio
import datetime
import decimal
import json
import uuid
from datetime import date

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db.models import JSONField
from psycopg._queries import PostgresClientQuery
from psycopg.adapt import Transformer

from config.runtime import native_db
from movies import selectors
from movies.models import Movie
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def users(django_user_model):
    return [
        django_user_model.objects.create_user(username=f"user{i}", is_staff=i % 2 == 0)
        for i in range(5)
    ]


@pytest.fixture
def films():
    drama, crime = make_genre("Drama"), make_genre("Crime")
    director = make_person("Sidney Lumet")
    return [
        make_movie(
            f"Film {i:02}",
            release_date=date(1950 + i, 1, 1),
            rating=50 + i,
            director=director if i % 2 else None,
            genres=[drama, crime] if i % 3 == 0 else [drama],
        )
        for i in range(12)
    ]


@pytest.fixture
def fresh_cache(monkeypatch):
    cache = native_db._SqlCache(native_db.SQL_CACHE_SIZE)
    monkeypatch.setattr(native_db, "_sql_cache", cache)
    return cache


async def test_rows_match_the_orm_with_converters_applied(users):
    queryset = (
        User.objects.filter(is_staff=True)
        .order_by("username")
        .values("id", "username", "date_joined")
    )
    (rows,), total = await native_db.evaluate(queryset)
    assert total is None
    assert rows == [row async for row in queryset]
    assert [row["username"] for row in rows] == ["user0", "user2", "user4"]
    # Converters ran: datetimes come back timezone-aware, as from the ORM.
    assert rows[0]["date_joined"].tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        '[{"slug": "drama", "name": "Drama"}]',
        '{"a": [1, 2.5, -0.0, 1e-7, "caf\\u00e9", null, true], "a": "last wins"}',
        "123456789012345678901234567890",  # beyond 64 bits: a float to orjson
        "-9223372036854775809",
        "[18446744073709551616, 1.0000000000000000000001]",
        "NaN",
        '"\\ud800"',  # a lone surrogate
        "not json",
        "",
    ],
)
def test_json_read_natively_is_what_django_s_converter_gives(text):
    field = JSONField()
    faster = native_db._faster_converter(field.from_db_value)
    assert faster is not field.from_db_value
    expected = field.from_db_value(text, None, None)
    assert faster(text, None, None) == expected or expected != expected  # NaN
    assert type(faster(text, None, None)) is type(expected)
    assert faster(None, None, None) is None


def test_a_json_field_with_its_own_decoder_keeps_django_s_converter():
    field = JSONField(decoder=json.JSONDecoder)
    assert native_db._faster_converter(field.from_db_value) == field.from_db_value


async def test_several_querysets_and_a_count_in_one_call(users):
    staff = User.objects.filter(is_staff=True).order_by("username")
    (first, names), total = await native_db.evaluate(
        staff.values("username")[:1], staff.values("username", "is_staff"), count=staff
    )
    assert first == [{"username": "user0"}]
    assert [row["username"] for row in names] == ["user0", "user2", "user4"]
    assert total == 3


async def test_a_read_ahead_is_read_by_the_next_call_only_and_first(users, monkeypatch):
    round_trips: list[int] = []
    monkeypatch.setattr(
        native_db, "query_observers", [lambda seconds, statements: round_trips.append(statements)]
    )
    staff = User.objects.filter(is_staff=True).order_by("username").values("username")
    others = User.objects.filter(is_staff=False).order_by("username").values("username")
    with native_db.read_ahead(others) as ahead:
        assert ahead.rows is None
        (rows,), total = await native_db.evaluate(staff, count=staff)
        assert ahead.rows == [{"username": "user1"}, {"username": "user3"}]
        # The next call reads only its own.
        (again,), _ = await native_db.evaluate(staff)
    assert [row["username"] for row in rows] == [row["username"] for row in again]
    assert [row["username"] for row in rows] == ["user0", "user2", "user4"]
    assert total == 3
    if native_db.native_enabled():
        # The read-ahead, the rows and the count in one round trip; then one.
        assert round_trips == [3, 1]


async def test_a_read_ahead_without_a_call_reads_nothing(users):
    with native_db.read_ahead(User.objects.values("username")) as ahead:
        pass
    assert ahead.rows is None
    (rows,), _ = await native_db.evaluate(User.objects.filter(username="user0").values("pk"))
    assert len(rows) == 1
    assert ahead.rows is None  # the block is over: nothing is read for it


async def test_a_statement_run_along_goes_last_in_the_next_native_call_only(users, monkeypatch):
    round_trips: list[int] = []
    monkeypatch.setattr(
        native_db, "query_observers", [lambda seconds, statements: round_trips.append(statements)]
    )
    staff = User.objects.filter(is_staff=True).order_by("username").values("username")
    renaming = "UPDATE auth_user SET first_name = %s WHERE username = %s RETURNING username"
    with native_db.run_along(renaming, ["Along", "user0"]) as along:
        (rows,), total = await native_db.evaluate(staff, count=staff)
        (again,), _ = await native_db.evaluate(staff)
    assert [row["username"] for row in rows] == ["user0", "user2", "user4"]
    assert again == rows
    assert total == 3
    if native_db.native_enabled():
        # The rows, the count and the statement in one round trip; then the rows.
        assert round_trips == [3, 1]
        assert along.rows == [("user0",)]
        assert await User.objects.filter(first_name="Along").acount() == 1
    else:
        # Nothing runs it here: its caller does (``rows`` stays None).
        assert along.rows is None
        assert not await User.objects.filter(first_name="Along").aexists()


async def test_a_statement_run_along_runs_once_whatever_the_tasks(native, users):
    counting = "UPDATE auth_user SET last_name = last_name || 'x' WHERE username = %s"
    staff = User.objects.filter(is_staff=True).values("username")
    with native_db.run_along(counting, ["user0"]) as along:
        # Each task gets a copy of the context, and with it the statement.
        await asyncio.gather(*(native_db.evaluate(staff) for _ in range(4)))
    assert along.rows == []
    assert (await User.objects.aget(username="user0")).last_name == "x"


async def test_a_statement_run_along_a_failed_round_trip_is_left_to_its_caller(native, users):
    broken = User.objects.extra(where=["no_such_column = 1"]).values("username")
    renaming = "UPDATE auth_user SET first_name = 'Along'"
    with native_db.run_along(renaming) as along, pytest.raises(psycopg.Error):
        await native_db.evaluate(broken)
    assert along.rows is None
    assert not await User.objects.filter(first_name="Along").aexists()


async def test_querysets_differing_only_in_a_filter_value_never_share_rows(users, fresh_cache):
    def staff(flag):
        return User.objects.filter(is_staff=flag).order_by("username").values("username")

    (staff_rows,), _ = await native_db.evaluate(staff(True))
    (others,), _ = await native_db.evaluate(staff(False))
    (again,), _ = await native_db.evaluate(staff(True))
    assert [r["username"] for r in staff_rows] == ["user0", "user2", "user4"]
    assert [r["username"] for r in others] == ["user1", "user3"]
    assert again == staff_rows


async def test_querysets_differing_only_in_a_slice_never_share_rows(users, fresh_cache):
    everyone = User.objects.order_by("username").values("username")
    pages = []
    for offset in range(5):
        (rows,), _ = await native_db.evaluate(everyone[offset : offset + 1])
        pages.append(rows)
    assert pages == [[{"username": f"user{i}"}] for i in range(5)]


async def test_text_filters_and_searches_never_share_rows(films, fresh_cache):
    for q, expected in [("Film 01", ["Film 01"]), ("Film 1", ["Film 10", "Film 11"])]:
        (rows,), total = await native_db.evaluate(
            selectors.movie_rows(q=q).values("title"), count=selectors.movie_rows(q=q)
        )
        assert [row["title"] for row in rows] == expected
        assert total == len(expected)


def _genre_key(row):
    return row["movie_id"], row["genre__slug"]


async def test_every_filter_of_the_movie_list_matches_the_orm(films, fresh_cache):
    drama_director = films[1].director_id
    for filters in [
        {},
        {"genre": "crime"},
        {"genre": "drama", "year_min": 1955},
        {"director": drama_director},
        {"year": 1953},
        {"year_min": 1952, "year_max": 1956, "ordering": "-rating"},
        {"min_rating": 58, "ordering": "release_date"},
        {"genre": "nope"},
        {"q": "!"},
    ]:
        movies = selectors.movie_rows(**filters)
        shown = movies[2:6]
        # A second queryset with the first one as its subquery.
        genres_of_page = Movie.genres.through.objects.filter(
            movie_id__in=shown.values("id")
        ).values("movie_id", "genre__slug")
        (rows, genres), total = await native_db.evaluate(shown, genres_of_page, count=movies)
        assert rows == [row async for row in shown], filters
        assert sorted(genres, key=_genre_key) == sorted(
            [row async for row in genres_of_page], key=_genre_key
        ), filters
        assert sorted(genres, key=_genre_key) == sorted(
            (
                {"movie_id": row["id"], "genre__slug": genre["slug"]}
                for row in rows
                for genre in row["genre_list"]
            ),
            key=_genre_key,
        ), filters
        assert total == await movies.acount(), filters


async def test_rows_written_after_a_read_are_seen(users, fresh_cache):
    queryset = User.objects.order_by("username").values("username")
    (before,), _ = await native_db.evaluate(queryset)
    await User.objects.acreate(username="zed")
    (after,), _ = await native_db.evaluate(queryset)
    assert len(after) == len(before) + 1
    assert after[-1]["username"] == "zed"


async def test_counts_and_empty_querysets(users):
    assert (await native_db.evaluate(count=User.objects.filter(is_staff=True)))[1] == 3
    assert (await native_db.evaluate(count=User.objects.filter(username="nobody")))[1] == 0
    assert (await native_db.evaluate(count=User.objects.none()))[1] == 0
    assert await native_db.evaluate(User.objects.none().values("id")) == ([[]], None)
    # A subquery that can match nothing: Django refuses to compile it.
    nothing = User.objects.none().values("id")
    (rows,), _ = await native_db.evaluate(User.objects.filter(id__in=nothing).values("id"))
    assert rows == []


async def test_model_querysets_are_refused():
    with pytest.raises(TypeError, match="values"):
        await native_db.evaluate(User.objects.all())


async def test_ten_thousand_movie_ids_share_one_cache_entry_and_compile_once(
    native, films, fresh_cache, monkeypatch
):
    """The detail endpoint's read: whatever the id, one shape, compiled
    when first seen (twice: with its values and with stand-ins) and never
    again. The async ORM compiles every query, so past the first read the
    native path does strictly less work per read than the ORM."""
    compiles = []
    compile_query = native_db._compile
    monkeypatch.setattr(
        native_db, "_compile", lambda *args: compiles.append(1) or compile_query(*args)
    )
    for movie_id in range(1, 10_001):
        native_db._compiled(selectors.movie_row(movie_id))
    assert len(fresh_cache.entries) == 1
    assert len(compiles) == 2
    # ... and each still reads its own movie, with its own genres.
    for film in films[:4]:
        (rows,), _ = await native_db.evaluate(selectors.movie_row(film.pk))
        assert [row["id"] for row in rows] == [film.pk]
        assert [genre["slug"] async for genre in film.genres.order_by("name").values()] == [
            genre["slug"] for genre in rows[0]["genre_list"]
        ]


# filtered(): a long-lived queryset filtered the same way on every request ---


@pytest.fixture
def conditions_built(monkeypatch):
    """Each condition the ORM builds (``Query.add_q``), as a list."""
    from django.db.models.sql.query import Query

    built: list[object] = []
    add_q = Query.add_q
    monkeypatch.setattr(Query, "add_q", lambda query, q: built.append(q) or add_q(query, q))
    return built


def _rows(queryset):
    return list(queryset.order_by("id"))


def test_filtered_gives_what_filter_gives_and_builds_the_condition_once(films, conditions_built):
    base = Movie.objects.values("id", "title", "rating")
    ids = [film.pk for film in films] + [max(film.pk for film in films) + 1]
    for movie_id in ids:
        ours, theirs = native_db.filtered(base, pk=movie_id), base.filter(pk=movie_id)
        assert str(ours.query) == str(theirs.query)
        assert _rows(ours) == _rows(theirs)
    assert _rows(native_db.filtered(base, pk=ids[-1])) == []
    # Its first call and its proof; theirs, one per call (and one per order_by).
    conditions_built.clear()
    for movie_id in ids:
        assert [row["id"] for row in native_db.filtered(base, pk=movie_id)] == (
            [movie_id] if movie_id != ids[-1] else []
        )
    assert conditions_built == []


def test_filtered_keeps_each_set_of_lookups_apart(films):
    base = Movie.objects.values("id", "title", "rating")
    title = films[3].title
    assert _rows(native_db.filtered(base, title=title)) == _rows(base.filter(title=title))
    assert _rows(native_db.filtered(base, rating=films[3].rating)) == _rows(
        base.filter(rating=films[3].rating)
    )
    both = native_db.filtered(base, rating__gte=55, title__startswith="Film 1")
    assert _rows(both) == _rows(base.filter(rating__gte=55, title__startswith="Film 1"))
    assert [row["title"] for row in _rows(both)] == ["Film 10", "Film 11"]
    assert _rows(native_db.filtered(base, title=title)) == _rows(base.filter(title=title))


def test_filtered_shares_conditions_the_orm_compiles_from_their_value(films, conditions_built):
    """A year's condition holds the year (its range of dates comes when the
    SQL is compiled): one condition built, each year its own rows."""
    base = Movie.objects.values("id", "title")
    for year in (1950, 1955, 1961, 1999):
        ours, theirs = (
            native_db.filtered(base, release_date__year=year),
            base.filter(release_date__year=year),
        )
        assert str(ours.query) == str(theirs.query)
        assert _rows(ours) == _rows(theirs)
        assert len(_rows(ours)) == (0 if year == 1999 else 1)
    conditions_built.clear()
    native_db.filtered(base, release_date__year=1952)
    assert conditions_built == []


def test_filtered_builds_every_time_a_value_the_orm_transforms(films, conditions_built):
    """A text id becomes an integer in the condition: not shared."""
    base = Movie.objects.values("id")
    film = films[5]
    for _ in range(3):
        assert [row["id"] for row in native_db.filtered(base, pk=str(film.pk))] == [film.pk]
    conditions_built.clear()
    native_db.filtered(base, pk=str(film.pk))
    assert len(conditions_built) == 1


def test_with_native_reads_off_filtered_is_filter(films, settings):
    settings.NATIVE_ASYNC_DB = False
    base = Movie.objects.values("id")
    assert _rows(native_db.filtered(base, pk=films[0].pk)) == [{"id": films[0].pk}]
    assert "_native_filters" not in base.__dict__


async def test_rows_read_through_filtered_are_each_call_s_own(films, fresh_cache):
    base = Movie.objects.values("id", "title")
    reads = [native_db.evaluate(native_db.filtered(base, pk=film.pk)) for film in films]
    results = await asyncio.gather(*reads)
    assert [rows for (rows,), _ in results] == [
        [{"id": film.pk, "title": film.title}] for film in films
    ]


@pytest.fixture
def compiles(monkeypatch):
    """Every compilation of a query by native_db, as a list."""
    seen: list[object] = []
    compile_query = native_db._compile
    monkeypatch.setattr(
        native_db, "_compile", lambda *args: seen.append(args[0]) or compile_query(*args)
    )
    return seen


async def test_a_queryset_read_again_is_not_compiled_again_but_its_rows_are_read(
    native, users, fresh_cache, compiles
):
    names = User.objects.order_by("username").values("username")
    (before,), _ = await native_db.evaluate(names)
    compiled_once = len(compiles)
    await User.objects.acreate(username="zed")
    (after,), _ = await native_db.evaluate(names)
    assert len(compiles) == compiled_once
    assert [row["username"] for row in after] == [row["username"] for row in before] + ["zed"]
    # A queryset given another Query is compiled for that one.
    names.query = User.objects.filter(username="zed").values("username").query
    (zed,), _ = await native_db.evaluate(names)
    assert zed == [{"username": "zed"}]


async def test_counts_differing_in_a_filter_value_share_sql_but_count_their_own_rows(
    native, users, fresh_cache, compiles
):
    ids = sorted(user.pk for user in users)
    for lowest in ids:
        everyone_from = User.objects.filter(pk__gte=lowest).order_by("username")
        assert (await native_db.evaluate(count=everyone_from))[1] == len(ids) - ids.index(lowest)
    # The first count compiled its rows (twice: values, stand-ins); no other.
    assert len(compiles) == 2
    assert (await native_db.evaluate(count=User.objects.filter(pk__gte=ids[-1] + 1)))[1] == 0


async def test_the_cache_stays_within_its_bound_whatever_the_traffic(native, films, monkeypatch):
    cache = native_db._SqlCache(8)
    monkeypatch.setattr(native_db, "_sql_cache", cache)
    everyone = Movie.objects.order_by("id").values("id")
    for offset in range(50):  # every slice is a shape of its own
        (rows,), _ = await native_db.evaluate(everyone[offset : offset + 1])
        assert len(cache.entries) <= 8
        assert rows == ([{"id": films[offset].pk}] if offset < len(films) else [])


async def test_a_value_transformed_on_its_way_to_the_sql_is_keyed_exactly(
    native, users, fresh_cache
):
    """icontains wraps the value in %...%: no slot can be proved, so each value
    gets an entry of its own rather than another value's parameters."""
    for name, expected in [("user1", ["user1"]), ("user3", ["user3"]), ("user", 5)]:
        queryset = User.objects.filter(username__icontains=name).values("username")
        (rows,), _ = await native_db.evaluate(queryset)
        if isinstance(expected, int):
            assert len(rows) == expected
        else:
            assert [row["username"] for row in rows] == expected
    assert len(fresh_cache.entries) == 3


async def test_concurrent_reads_of_different_ids_get_their_own_rows(native, films, fresh_cache):
    async def read(movie_id):
        (rows,), _ = await native_db.evaluate(selectors.movie_row(movie_id))
        return {row["id"] for row in rows}

    ids = [film.pk for film in films]
    results = await asyncio.gather(*(read(movie_id) for movie_id in ids))
    assert results == [{movie_id} for movie_id in ids]


async def test_execute_runs_statements_that_return_no_rows(users):
    if not native_db.native_enabled():
        pytest.skip("native_db.execute is used on PostgreSQL only (callers check native_enabled)")
    rows = await native_db.execute("DELETE FROM auth_user WHERE username = %s", ["user1"])
    assert rows == []
    assert not await User.objects.filter(username="user1").aexists()
    rows = await native_db.execute("SELECT count(*) FROM auth_user")
    assert rows == [(4,)]


async def test_a_request_that_purges_old_rate_limit_counters_is_served(
    async_client, settings, monkeypatch
):
    """The purge (a DELETE, no rows back) runs on about one new window in
    fifty; force it."""
    from config.access import ratelimit

    settings.API_THROTTLE_ANON = "1000/min"
    monkeypatch.setattr(ratelimit.random, "randrange", lambda n: 0)
    response = await async_client.get("/api/genres")
    assert response.status_code == 200
    assert "items" in response.json()


# Prepared statements ----------------------------------------------------------


def _statement(queryset):
    entry, params = native_db._compiled(queryset)
    return entry.sql, params


async def _prepared_on(conn) -> list[str]:
    cursor = await conn.execute("SELECT name FROM pg_prepared_statements")
    return [name for (name,) in await cursor.fetchall()]


@pytest.fixture
async def connection_of_pool(native):
    pool = await native_db.get_pool()
    async with pool.connection() as conn:
        yield conn


@pytest.fixture
def fresh_statements(monkeypatch):
    monkeypatch.setattr(native_db, "_statement_names", {})
    monkeypatch.setattr(native_db, "_unpreparable", set())


async def test_a_statement_is_prepared_once_per_connection_and_reads_each_call_s_rows(
    films, connection_of_pool, fresh_statements
):
    for film in films[:6]:
        title = Movie.objects.filter(pk=film.pk).values("title")
        (rows,) = await native_db._execute_on(connection_of_pool, [_statement(title)])
        assert rows == [(film.title,)]
    assert len(await _prepared_on(connection_of_pool)) == 1
    cursor = await connection_of_pool.execute(
        "SELECT generic_plans + custom_plans FROM pg_prepared_statements"
    )
    assert await cursor.fetchall() == [(6,)]  # every call executed it


async def test_prepared_statements_stay_within_their_bound_per_connection(
    films, connection_of_pool, fresh_statements, monkeypatch
):
    monkeypatch.setattr(native_db, "PREPARED_PER_CONNECTION", 3)
    everyone = Movie.objects.order_by("id").values("id")
    for offset in range(8):  # a statement each
        (rows,) = await native_db._execute_on(
            connection_of_pool, [_statement(everyone[offset : offset + 1])]
        )
        assert rows == [(films[offset].pk,)]
        assert len(await _prepared_on(connection_of_pool)) <= 3


async def test_a_batch_read_again_reuses_its_statements_until_one_is_deallocated(
    films, connection_of_pool, fresh_statements, monkeypatch
):
    monkeypatch.setattr(native_db, "PREPARED_PER_CONNECTION", 2)
    # A batch naming a statement the connection no longer has would fail,
    # then be sent again as text: make that failure show.
    monkeypatch.setattr(native_db._Preparer, "forget", lambda self: pytest.fail("a batch failed"))
    by_id = [Movie.objects.filter(pk=film.pk).values("title") for film in films[:3]]
    by_slug = Movie.objects.filter(slug=films[1].slug).values("id")
    ordered = Movie.objects.order_by("id").values("id")[:1]
    batch = [_statement(by_id[0]), _statement(by_slug)]
    for queryset_batch, expected in [
        (batch, [[(films[0].title,)], [(films[1].pk,)]]),
        (batch, [[(films[0].title,)], [(films[1].pk,)]]),  # as prepared the first time
        ([_statement(by_id[1])] + batch[1:], [[(films[1].title,)], [(films[1].pk,)]]),
        ([_statement(ordered)], [[(films[0].pk,)]]),  # deallocates one of the two
        (batch, [[(films[0].title,)], [(films[1].pk,)]]),  # prepared again
        ([_statement(by_id[2])], [[(films[2].title,)]]),
    ]:
        assert await native_db._execute_on(connection_of_pool, queryset_batch) == expected
        assert len(await _prepared_on(connection_of_pool)) <= 2


async def test_a_statement_that_cannot_be_prepared_is_sent_as_text_from_then_on(
    films, connection_of_pool, fresh_statements, monkeypatch
):
    # Declared as a date, an id cannot be compared with the id column.
    monkeypatch.setitem(native_db._PARAMETER_TYPES, int, "date")
    for film in films[:2]:
        title = Movie.objects.filter(pk=film.pk).values("title")
        (rows,) = await native_db._execute_on(connection_of_pool, [_statement(title)])
        assert rows == [(film.title,)]
    assert len(native_db._unpreparable) == 1
    assert await _prepared_on(connection_of_pool) == []


async def test_a_failing_statement_raises_its_error_and_the_connection_reads_on(
    films, connection_of_pool, fresh_statements
):
    title = Movie.objects.filter(pk=films[0].pk).values("title")
    await native_db._execute_on(connection_of_pool, [_statement(title)])
    with pytest.raises(psycopg.errors.UndefinedTable):
        await native_db._execute_on(
            connection_of_pool, [("SELECT id FROM no_such_table WHERE id = %s", (1,))]
        )
    (rows,) = await native_db._execute_on(connection_of_pool, [_statement(title)])
    assert rows == [(films[0].title,)]


async def test_with_preparing_off_statements_go_as_text(
    films, connection_of_pool, fresh_statements, settings
):
    settings.NATIVE_ASYNC_DB_PREPARE = False
    title = Movie.objects.filter(pk=films[0].pk).values("title")
    (rows,) = await native_db._execute_on(connection_of_pool, [_statement(title)])
    assert rows == [(films[0].title,)]
    assert await _prepared_on(connection_of_pool) == []


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT 1", ()),
        ("SELECT %s, %s, %s", (None, True, 42)),
        ("SELECT %s WHERE title LIKE '%%x%%'", ("it's 50% off; -- \\ 'quoted'",)),
        (
            "SELECT %s, %s, %s, %s",
            (
                decimal.Decimal("12.50"),
                date(1999, 12, 31),
                datetime.datetime(2026, 12, 3, 11, 0, tzinfo=datetime.UTC),
                datetime.timedelta(minutes=97),
            ),
        ),
        ("SELECT %s, %s", (uuid.UUID(int=7), ["a", "b'c"])),
    ],
)
def test_bind_gives_what_psycopg_binds_client_side(sql, params):
    transformer = Transformer()
    query = PostgresClientQuery(transformer)
    query.convert(sql, params)
    assert native_db.bind(transformer, sql, params) == query.query
