"""config.pagination's keysets on an ordering that can be NULL: pages come in
the same order on SQLite and PostgreSQL (NULLs after the values ascending,
before them descending), and walking them either way gives every row once."""

from datetime import date, timedelta

import pytest
from django.db.models import F

from config.pagination import CursorPageIn, keyset_of, keyset_page
from config.runtime.native_db import evaluate
from movies.models import Movie, Person

pytestmark = pytest.mark.django_db(transaction=True)

DIRECTORS = ["Ava", None, "Ben", "Ava", None, "Cid", None, "Ben", "Ava"]


@pytest.fixture
async def movies():
    people = {name: await Person.objects.acreate(name=name) for name in {"Ava", "Ben", "Cid"}}
    made = []
    for n, director in enumerate(DIRECTORS):
        made.append(
            await Movie.objects.acreate(
                title=f"Film {n}",
                slug=f"film-{n}",
                release_date=date(2000, 1, 1),
                rating=50,
                duration=timedelta(minutes=90),
                director=people[director] if director else None,
            )
        )
    return made


def expected(movies, descending: bool) -> list[int]:
    named = sorted((m for m in movies if m.director_id), key=lambda m: (m.director.name, m.pk))
    unnamed = sorted((m for m in movies if not m.director_id), key=lambda m: m.pk)
    ascending = [m.pk for m in named + unnamed]
    return ascending[::-1] if descending else ascending


async def page(rows, **params):
    shown = keyset_page(rows, CursorPageIn(**params), list_name="test")
    (found,), count = await evaluate(shown.rows, count=shown.count)
    found, links = shown.links(found, count)
    return [row["id"] for row in found], links


async def walk(rows, link: str, start: dict, limit: int) -> list[list[int]]:
    ids, links = await page(rows, limit=limit, **start)
    pages = [ids]
    while links[link] is not None:
        ids, links = await page(rows, limit=limit, cursor=links[link])
        pages.append(ids)
    return pages


ORDERINGS = {
    "ascending": (("director__name", "id"), False),
    "descending": (("-director__name", "-id"), True),
    "explicit nulls": ((F("director__name").asc(nulls_last=True), "id"), False),
}
NULLS_FIRST = (F("director__name").asc(nulls_first=True), "id")


@pytest.mark.parametrize("ordering", ORDERINGS.values(), ids=ORDERINGS.keys())
@pytest.mark.parametrize("limit", [1, 2, 4, 20])
async def test_nullable_ordering_pages_alike_everywhere(movies, ordering, limit):
    order_by, descending = ordering
    rows = Movie.objects.values("id", "director__name").order_by(*order_by)
    want = expected(
        [await Movie.objects.select_related("director").aget(pk=m.pk) for m in movies],
        descending,
    )
    forward = await walk(rows, "next", {}, limit)
    assert sum(forward, []) == want
    assert all(len(ids) == limit for ids in forward[:-1])
    backward = await walk(rows, "previous", {"offset": 100}, limit)
    assert backward[0] == []  # the page past the end
    assert sum(reversed(backward[1:]), []) == want


async def test_nulls_first_ascending_pages_too(movies):
    rows = Movie.objects.values("id", "director__name").order_by(*NULLS_FIRST)
    want = expected(
        [await Movie.objects.select_related("director").aget(pk=m.pk) for m in movies], False
    )
    unnamed = [pk for pk in want if pk in {m.pk for m in movies if not m.director_id}]
    want = unnamed + [pk for pk in want if pk not in unnamed]
    forward = await walk(rows, "next", {}, 2)
    assert sum(forward, []) == want
    backward = await walk(rows, "previous", {"offset": 100}, 2)
    assert sum(reversed(backward[1:]), []) == want


async def test_a_page_within_the_nulls_links_both_ways(movies):
    rows = Movie.objects.values("id", "director__name").order_by("director__name", "id")
    everything, _ = await page(rows, limit=100)
    ids, links = await page(rows, limit=2, offset=7)  # the last two NULLs
    assert ids == everything[7:9]
    before, _ = await page(rows, limit=2, cursor=links["previous"])
    assert before == everything[5:7]


def test_a_keyset_must_end_with_a_unique_field():
    with pytest.raises(ValueError, match="unique"):
        keyset_of(Movie, ("rating",))
    with pytest.raises(ValueError, match="ordering"):
        keyset_of(Movie, ())
    assert keyset_of(Movie, ("-rating", "-id")).label == "-rating,-id"
    # Where NULLs go is part of the ordering a cursor was made for.
    nulls_first = (F("director__name").asc(nulls_first=True), "id")
    assert keyset_of(Movie, nulls_first).label == "director__name:nulls-first,id"
    assert keyset_of(Movie, ("director__name", "id")).label == "director__name,id"
