"""The peer bench/run.py measures the project against: FastAPI + asyncpg +
pydantic serving the same JSON from the same tables as the project's
``GET /api/movies`` (default order: title, then id) and ``GET /api/movies/{id}``.

Written the way one would write it with that stack, not tuned past that: one
asyncpg pool per worker (opened by the lifespan handler), one SQL statement
per request with the genres aggregated in SQL (asyncpg prepares and caches
it), pydantic response models, FastAPI's default JSON rendering (pydantic
straight to bytes when a response model is declared).

The list pages as the project's does: ``limit``/``offset``, or a ``cursor``
(keyset on title and id), with ``count=false`` to skip the total, and every
page carries ``next``/``previous`` cursors in the project's format (urlsafe
base64 of a truncated HMAC-SHA256 and compact JSON, keyed from the same
DJANGO_SECRET_KEY: config/pagination.py), so the two answer the same bytes
of JSON and each takes the other's cursors. A small codec here rather than
an import: the peer stays free of Django.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        uvicorn bench.fastapi_app:app --workers 2 --loop uvloop --http httptools

The database URL comes from BENCH_DATABASE_URL, else DATABASE_URL; the pool
holds DB_POOL_MAX_SIZE connections (default 10, as the project's pools).
Not part of the product: its packages are in the ``bench`` extra only.
"""

import hashlib
import hmac
import json
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
from binascii import Error as Base64Error
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
CURSOR_MAX_LENGTH = 1400  # config.pagination.CURSOR_MAX_LENGTH
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"  # and CURSOR_PATTERN


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
    count: int | None
    next: str | None
    previous: str | None


class Error(BaseModel):
    detail: str


# A movie's columns, its director's name and its genres by name then id, as
# an array of (slug, name) rows: one statement for everything a movie shows.
MOVIE_SQL = """
    SELECT m.id, m.title, m.slug, m.release_date, m.rating, m.duration, m.director_id,
        p.name AS director_name,
        ARRAY(
            SELECT ROW(g.slug, g.name)
            FROM movies_movie_genres mg JOIN movies_genre g ON g.id = mg.genre_id
            WHERE mg.movie_id = m.id
            ORDER BY g.name, g.id
        ) AS genres{total}
    FROM movies_movie m LEFT JOIN movies_person p ON p.id = m.director_id
"""
# On an offset page with its count, the total is an uncorrelated subquery,
# which PostgreSQL computes once per statement (an index-only count): the
# page and its count are one round trip. (Every statement here is built from
# constants; the values are parameters.)
PAGE_SQL = (
    MOVIE_SQL.format(total=",\n        (SELECT count(*) FROM movies_movie) AS total")  # noqa: S608
    + "ORDER BY m.title, m.id LIMIT $1 OFFSET $2"
)
MOVIES_SQL = MOVIE_SQL.format(total="")
OFFSET_SQL = MOVIES_SQL + "ORDER BY m.title, m.id LIMIT $1 OFFSET $2"
# Cursor pages: the rows after (or before) a (title, id) position, nearest first.
FIRST_SQL = MOVIES_SQL + "ORDER BY m.title, m.id LIMIT $1"
LAST_SQL = MOVIES_SQL + "ORDER BY m.title DESC, m.id DESC LIMIT $1"
AFTER_SQL = MOVIES_SQL + "WHERE (m.title, m.id) > ($1, $2) ORDER BY m.title, m.id LIMIT $3"
BEFORE_SQL = (
    MOVIES_SQL + "WHERE (m.title, m.id) < ($1, $2) ORDER BY m.title DESC, m.id DESC LIMIT $3"
)
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


# Cursors, in config/pagination.py's format: which list, which ordering,
# which way, and the boundary row's (title, id).
CURSOR_LIST = "movies"
CURSOR_ORDER = "title,id"
NEXT, PREVIOUS = "next", "previous"
SIGNATURE_BYTES = 12
CURSOR_KEYS = {"list", "order", "page", "key"}


def _signing_key() -> bytes:
    secret = os.environ.get("DJANGO_SECRET_KEY", "")
    return hashlib.sha256(b"config.pagination.cursor\x00" + secret.encode()).digest()


SIGNING_KEY = _signing_key()


def _signature(data: bytes) -> bytes:
    return hmac.digest(SIGNING_KEY, data, "sha256")[:SIGNATURE_BYTES]


def make_cursor(page: str, row: asyncpg.Record | None) -> str:
    key = None if row is None else [row["title"], row["id"]]
    payload = {"list": CURSOR_LIST, "order": CURSOR_ORDER, "page": page, "key": key}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return urlsafe_b64encode(_signature(data) + data).rstrip(b"=").decode("ascii")


def read_cursor(token: str) -> tuple[str, tuple[str, int] | None]:
    """The direction and the (title, id) boundary of a cursor; a 422 for
    anything this API did not make for this list and ordering."""
    invalid = HTTPException(422, "Not a cursor of this API, or altered.")
    try:
        raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = raw[SIGNATURE_BYTES:]
        if not data or not hmac.compare_digest(raw[:SIGNATURE_BYTES], _signature(data)):
            raise invalid
        payload = json.loads(data)
    except (Base64Error, ValueError):
        raise invalid from None
    if type(payload) is not dict or payload.keys() != CURSOR_KEYS:
        raise invalid
    if payload["list"] != CURSOR_LIST or payload["order"] != CURSOR_ORDER:
        raise HTTPException(422, "This cursor was made for another list or ordering.")
    page, key = payload["page"], payload["key"]
    if page not in (NEXT, PREVIOUS):
        raise invalid
    if key is None:
        return page, None
    if (
        type(key) is not list
        or len(key) != 2
        or type(key[0]) is not str
        or "\x00" in key[0]
        or type(key[1]) is not int
        or not 1 <= key[1] <= MAX_ID
    ):
        raise invalid
    return page, (key[0], key[1])


def movie_page(
    rows: list[asyncpg.Record], count: int | None, more_after: bool, more_before: bool
) -> dict:
    """A page's body: its movies, the count, and the cursors of the pages on
    either side (from its last and first row; with no row, from the end)."""
    return {
        "items": [movie(row) for row in rows],
        "count": count,
        "next": make_cursor(NEXT, rows[-1] if rows else None) if more_after else None,
        "previous": make_cursor(PREVIOUS, rows[0] if rows else None) if more_before else None,
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
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN),
    ] = None,
    count: bool = True,
):
    if cursor is None:
        return await offset_page(request.state.pool, limit, offset, count)
    if offset:
        raise HTTPException(422, "`offset` cannot go with `cursor`.")
    page, boundary = read_cursor(cursor)
    async with request.state.pool.acquire() as conn:
        if boundary is None:
            rows = await conn.fetch(FIRST_SQL if page == NEXT else LAST_SQL, limit + 1)
        else:
            sql = AFTER_SQL if page == NEXT else BEFORE_SQL
            rows = await conn.fetch(sql, *boundary, limit + 1)
        total = await conn.fetchval(COUNT_SQL) if count else None
    # One row more than the page says whether there is a page beyond it.
    beyond = len(rows) > limit
    if page == NEXT:
        return movie_page(rows[:limit], total, beyond, boundary is not None)
    return movie_page(rows[:limit][::-1], total, boundary is not None, beyond)


async def offset_page(pool: asyncpg.Pool, limit: int, offset: int, count: bool) -> dict:
    async with pool.acquire() as conn:
        if count:
            rows = await conn.fetch(PAGE_SQL, limit, offset)
            # Past the last page there is no row to carry the total.
            total = rows[0]["total"] if rows else await conn.fetchval(COUNT_SQL)
            return movie_page(rows, total, offset + len(rows) < total, offset > 0)
        rows = await conn.fetch(OFFSET_SQL, limit + 1, offset)
    return movie_page(rows[:limit], None, len(rows) > limit, offset > 0)


@app.get("/api/movies/{movie_id}", response_model=Movie, responses={404: {"model": Error}})
async def get_movie(request: Request, movie_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
    row = await request.state.pool.fetchrow(DETAIL_SQL, movie_id)
    if row is None:
        raise HTTPException(404, f"No movie with id {movie_id}.")
    return movie(row)
