"""config/runtime/responses.py: an API handler's plain-dict result validated
by its declared type gives the JSON ninja's own path gives."""

import inspect

import pytest
from django.test import AsyncClient
from django.urls import resolve
from ninja.operation import AsyncOperation

from config.runtime.responses import PlainDictResultsAsync
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db(transaction=True)


def operation_of(path: str) -> AsyncOperation:
    (operation,) = [
        op
        for op in inspect.getclosurevars(resolve(path).func).nonlocals["self"].operations
        if "GET" in op.methods
    ]
    return operation


@pytest.fixture
def movies():
    director = make_person("Agnès Varda")
    genres = [make_genre("Drama"), make_genre("Comedy")]
    return [make_movie(director=director, genres=genres) for _ in range(3)] + [make_movie()]


async def get_both_ways(path: str) -> tuple:
    """The response with the runtime's path, then with ninja's own."""
    operation = operation_of(path.split("?")[0])
    assert type(operation) is PlainDictResultsAsync
    client = AsyncClient()
    fast = await client.get(path)
    operation.__class__ = AsyncOperation
    try:
        plain = await client.get(path)
    finally:
        operation.__class__ = PlainDictResultsAsync
    return fast, plain


@pytest.mark.parametrize("path", ["/api/movies/{id}", "/api/movies?limit=2", "/api/movies"])
async def test_the_json_is_what_ninja_itself_gives(movies, path):
    fast, plain = await get_both_ways(path.format(id=movies[0].id))
    assert fast.status_code == plain.status_code == 200
    assert fast.content == plain.content
    assert fast["Content-Type"] == plain["Content-Type"]


async def test_a_movie_without_director_or_genres(movies):
    fast, plain = await get_both_ways(f"/api/movies/{movies[-1].id}")
    assert fast.json()["director"] is None
    assert fast.json()["genres"] == []
    assert fast.content == plain.content


async def test_a_missing_movie_is_the_same_404(movies):
    fast, plain = await get_both_ways("/api/movies/999999")
    assert fast.status_code == plain.status_code == 404
    assert fast.json() == plain.json() == {"detail": "No movie with id 999999."}


async def test_a_result_its_schema_refuses_is_the_same_500(movies, monkeypatch):
    from movies import api as movies_api

    async def broken(movie_id):
        return {"id": "not a number"}

    monkeypatch.setattr(movies_api, "_movie_out_or_404", broken)
    fast, plain = await get_both_ways(f"/api/movies/{movies[0].id}")
    assert fast.status_code == plain.status_code == 500
    assert fast.json() == plain.json() == {"detail": "Internal server error."}
