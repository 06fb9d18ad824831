"""The peer bench/run.py measures the project against: FastAPI + asyncpg +
pydantic serving the same JSON from the same tables as the project's
``GET /api/movies`` (default order: title, then id) and ``GET /api/movies/{id}``.

Written the way one would write it with that stack, not tuned past that: one
asyncpg pool per worker (opened by the lifespan handler), one SQL statement
per request with the genres aggregated in SQL (asyncpg prepares and caches
it), pydantic response models, FastAPI's default JSON rendering (pydantic
straight to bytes when a response model is declared).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        uvicorn bench.fastapi_app:app --workers 2 --loop uvloop --http httptools

The database URL comes from BENCH_DATABASE_URL, else DATABASE_URL; the pool
holds DB_POOL_MAX_SIZE connections (default 10, as the project's pools).
Not part of the product: its packages are in the ``bench`` extra only.
"""

import os
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Annotated

import asyncpg
from fastapi import FastAPI, HTTPException, Path, Query, Request
from pydantic import BaseModel

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench"
PAGE_SIZE = 10  # the project's API_PAGE_SIZE
MAX_PAGE_SIZE = 100  # and API_MAX_PAGE_SIZE
MAX_OFFSET = 2**31 - 1  # config.pagination.MAX_OFFSET
MAX_ID = 2**63 - 1  # config.schemas.MAX_ID


class Director(BaseModel):
    id: int
    name: str


class Genre(BaseModel):
    slug: str
    name: str


class Movie(BaseModel):
    id: int
    title: str
    slug: str
    release_date: date
    year: int
    rating: int
    duration: str
    director: Director | None
    genres: list[Genre]


class MoviePage(BaseModel):
    items: list[Movie]
    count: int


class Error(BaseModel):
    detail: str


# A movie's columns, its director's name and its genres by name then id, as
# an array of (slug, name) rows: one statement for everything a movie shows.
# On the list, the total is an uncorrelated subquery, which PostgreSQL
# computes once per statement (an index-only count): the page and its count
# are one round trip.
PAGE_SQL = """
    SELECT m.id, m.title, m.slug, m.release_date, m.rating, m.duration, m.director_id,
        p.name AS director_name,
        ARRAY(
            SELECT ROW(g.slug, g.name)
            FROM movies_movie_genres mg JOIN movies_genre g ON g.id = mg.genre_id
            WHERE mg.movie_id = m.id
            ORDER BY g.name, g.id
        ) AS genres,
        (SELECT count(*) FROM movies_movie) AS total
    FROM movies_movie m LEFT JOIN movies_person p ON p.id = m.director_id
    ORDER BY m.title, m.id
    LIMIT $1 OFFSET $2
"""
COUNT_SQL = "SELECT count(*) FROM movies_movie"
DETAIL_SQL = """
    SELECT m.id, m.title, m.slug, m.release_date, m.rating, m.duration, m.director_id,
        p.name AS director_name,
        ARRAY(
            SELECT ROW(g.slug, g.name)
            FROM movies_movie_genres mg JOIN movies_genre g ON g.id = mg.genre_id
            WHERE mg.movie_id = m.id
            ORDER BY g.name, g.id
        ) AS genres
    FROM movies_movie m LEFT JOIN movies_person p ON p.id = m.director_id
    WHERE m.id = $1
"""


def running_time(duration: timedelta) -> str:
    """ "HH:MM:SS", whole seconds, hours past 24 (movies.durations.format_running_time)."""
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def movie(row: asyncpg.Record) -> dict:
    director_id = row["director_id"]
    return {
        "id": row["id"],
        "title": row["title"],
        "slug": row["slug"],
        "release_date": row["release_date"],
        "year": row["release_date"].year,
        "rating": row["rating"],
        "duration": running_time(row["duration"]),
        "director": (
            {"id": director_id, "name": row["director_name"]} if director_id is not None else None
        ),
        "genres": [{"slug": slug, "name": name} for slug, name in row["genres"]],
    }


@asynccontextmanager
async def lifespan(app: FastAPI):
    dsn = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL", DEFAULT_DB)
    size = int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
    async with asyncpg.create_pool(dsn, min_size=size, max_size=size) as pool:
        yield {"pool": pool}


app = FastAPI(title="Reel & Shelf bench peer", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/movies", response_model=MoviePage)
async def list_movies(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
):
    async with request.state.pool.acquire() as conn:
        rows = await conn.fetch(PAGE_SQL, limit, offset)
        # Past the last page there is no row to carry the total.
        count = rows[0]["total"] if rows else await conn.fetchval(COUNT_SQL)
    return {"items": [movie(row) for row in rows], "count": count}


@app.get("/api/movies/{movie_id}", response_model=Movie, responses={404: {"model": Error}})
async def get_movie(request: Request, movie_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    row = await request.state.pool.fetchrow(DETAIL_SQL, movie_id)
    if row is None:
        raise HTTPException(404, f"No movie with id {movie_id}.")
    return movie(row)
