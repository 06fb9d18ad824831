"""Reads: lazy querysets shared by the async API, the sync pages and the admin.

Every movie queryset here has a fixed query shape: the movies (joined to their
director) and one prefetch query for the genres of the whole page, whatever
the page size. Evaluate them with ``async for``/``aget`` in async code and
normally in sync code.
"""

import functools
import re
from datetime import date
from typing import Literal, get_args

from django.db import connections
from django.db.models import F, JSONField, OuterRef, Prefetch, QuerySet, Subquery

from config.runtime.native_db import filtered
from movies.models import Genre, Movie, Person

MovieOrdering = Literal["title", "-title", "release_date", "-release_date", "rating", "-rating"]
MOVIE_ORDERINGS: tuple[str, ...] = get_args(MovieOrdering)
DEFAULT_MOVIE_ORDERING: MovieOrdering = "title"

_SEARCH_WORD = re.compile(r"\w+")


def genre_list(*, q: str | None = None) -> QuerySet[Genre]:
    genres = Genre.objects.order_by("name")
    if q:
        genres = genres.filter(name__icontains=q)
    return genres


def person_list(*, q: str | None = None) -> QuerySet[Person]:
    people = Person.objects.order_by("name", "id")
    if q:
        people = people.filter(name__icontains=q)
    return people


def movie_base() -> QuerySet[Movie]:
    """Movies with what a listing shows: the director (joined) and the
    genres (one prefetch query, ordered by name)."""
    return Movie.objects.select_related("director").prefetch_related(
        Prefetch("genres", queryset=Genre.objects.order_by("name"))
    )


def title_search_vector():
    """The expression the PostgreSQL GIN index (migration 0002) is built on."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", config="english")


def _title_search(movies: QuerySet[Movie], q: str) -> QuerySet[Movie]:
    """Full-text search on PostgreSQL (English stemming, every word must
    match, the last one as a prefix so "godfath" finds The Godfather);
    case-insensitive substring match elsewhere."""
    if connections[movies.db].vendor != "postgresql":
        return movies.filter(title__icontains=q)
    from django.contrib.postgres.search import SearchQuery

    words = _SEARCH_WORD.findall(q)
    if not words:
        # Only punctuation: there is nothing to search for.
        return movies.none()
    # \w+ words hold no quote or operator, so quoting them keeps this raw
    # tsquery safe from injection of tsquery syntax.
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    query = SearchQuery(" & ".join(terms), search_type="raw", config="english")
    # alias(), not annotate(): filter on the vector without selecting it.
    return movies.alias(search=title_search_vector()).filter(search=query)


def movie_list(**filters) -> QuerySet[Movie]:
    """Movies matching every given filter (see ``filter_movies``), with their
    director and genres."""
    return filter_movies(movie_base(), **filters)


def filter_movies(
    movies: QuerySet,
    *,
    genre: str | None = None,
    director: int | None = None,
    year: int | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    min_rating: int | None = None,
    q: str | None = None,
    ordering: str = DEFAULT_MOVIE_ORDERING,
) -> QuerySet:
    """``movies`` narrowed to every given filter (None means "any"), ordered.

    ``genre`` is a genre slug, ``director`` a person id; an unknown one gives
    an empty result rather than an error. Years compare on the release date,
    as ranges, so the release_date index serves them. ``ordering`` must be one
    of MOVIE_ORDERINGS; the id breaks ties so pages never overlap.
    """
    if ordering not in MOVIE_ORDERINGS:
        raise ValueError(f"Unknown ordering {ordering!r}")
    if genre:
        movies = movies.filter(genres__slug=genre)
    if director is not None:
        movies = movies.filter(director_id=director)
    if year is not None:
        movies = movies.filter(
            release_date__gte=date(year, 1, 1), release_date__lte=date(year, 12, 31)
        )
    if year_min is not None:
        movies = movies.filter(release_date__gte=date(year_min, 1, 1))
    if year_max is not None:
        movies = movies.filter(release_date__lte=date(year_max, 12, 31))
    if min_rating is not None:
        movies = movies.filter(rating__gte=min_rating)
    if q and q.strip():
        movies = _title_search(movies, q.strip())
    tie_breaker = "-id" if ordering.startswith("-") else "id"
    return movies.order_by(ordering, tie_breaker)


def movie_detail() -> QuerySet[Movie]:
    """The queryset to get one movie from, by pk or slug."""
    return movie_base()


# Rows for the API ----------------------------------------------------------
#
# The API serialises movies from plain rows rather than model instances: one
# ``values()`` query for the page (director joined, each movie's genres
# aggregated in SQL into a JSON list) and one count; no model instances, no
# prefetch machinery, whatever the page size; one movie is one query and one
# row (movies.schemas assembles the API's dicts from them).

MOVIE_ROW_FIELDS = (
    "id",
    "title",
    "slug",
    "release_date",
    "rating",
    "duration",
    "director_id",
    "director__name",
)


class GenreList(Subquery):
    """A movie's genres as a JSON list of ``{"slug", "name"}``, in the order
    of the subquery of ``slug`` and ``name`` rows it wraps, ``[]`` for none.
    The list is aggregated over that subquery as a derived table, which keeps
    its order (SQLite before 3.44 has no ORDER BY inside an aggregate)."""

    output_field = JSONField()
    postgresql_template = (
        "COALESCE((SELECT JSONB_AGG(JSONB_BUILD_OBJECT('slug', items.slug, 'name', items.name))"
        " FROM (%(subquery)s) AS items), '[]'::jsonb)"
    )
    sqlite_template = (
        "COALESCE((SELECT JSON_GROUP_ARRAY(JSON_OBJECT('slug', items.slug, 'name', items.name))"
        " FROM (%(subquery)s) AS items), '[]')"
    )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, self.postgresql_template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, self.sqlite_template, **extra_context)


def _genre_list() -> GenreList:
    genres = (
        Movie.genres.through.objects.filter(movie_id=OuterRef("pk"))
        .order_by("genre__name", "genre_id")
        .values(slug=F("genre__slug"), name=F("genre__name"))
    )
    return GenreList(genres)


# Setting up values() over joined fields costs more than the filters put on
# it, so each request narrows a copy of this one (filtering clones a
# queryset; it is never evaluated itself).
@functools.cache
def _all_movie_rows() -> QuerySet:
    return Movie.objects.values(*MOVIE_ROW_FIELDS, genre_list=_genre_list())


def movie_rows(**filters) -> QuerySet:
    """``movie_list(**filters)`` as ``values()`` rows of MOVIE_ROW_FIELDS and
    ``genre_list``, the movie's genres by name (see GenreList)."""
    return filter_movies(_all_movie_rows(), **filters)


def movie_row(movie_id: int) -> QuerySet:
    """One movie's row, as ``movie_rows`` gives it (no row if there is no
    such movie)."""
    return filtered(_all_movie_rows(), pk=movie_id)
