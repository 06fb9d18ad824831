"""Writes: each service is one transaction, sync, keyword-only.

Async callers (the API) run them through ``sync_to_async``: transactions only
work in sync code. Failures the caller can explain to a user are raised as
MovieConflict (the title and release date, or the slug, are taken) and
UnknownReferences (a genre slug or director id that does not exist); nothing
is written when either is raised.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Final

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from movies.models import SLUG_MAX_LENGTH, Genre, Movie, Person

# Room left in a slug for "-<year>-<n>".
_SLUG_BASE_MAX_LENGTH = SLUG_MAX_LENGTH - 20


class MovieConflict(Exception):
    """The write would duplicate a unique value held by another movie."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


@dataclass
class UnknownReferences(Exception):
    """Genre slugs or a director id that name no row. Writes never create
    genres or people implicitly: a typo would leave junk rows behind."""

    genres: list[str]
    director: int | None

    def __str__(self) -> str:
        parts = []
        if self.genres:
            parts.append(f"unknown genre(s) {', '.join(self.genres)}")
        if self.director is not None:
            parts.append(f"unknown director {self.director}")
        return "; ".join(parts)


class _Unset(Enum):
    """The default of movie_update's fields: not passed, so left as it is
    (None is a value: it clears the director)."""

    UNSET = "unset"


_UNSET: Final = _Unset.UNSET


def slug_base(title: str) -> str:
    return slugify(title)[:_SLUG_BASE_MAX_LENGTH].strip("-") or "movie"


def slug_candidates(title: str, release_date: date) -> Iterator[str]:
    """Slugs to try in order: the title, then title-year, then title-year-2…"""
    base = slug_base(title)
    yield base
    yield f"{base}-{release_date.year}"
    n = 2
    while True:
        yield f"{base}-{release_date.year}-{n}"
        n += 1


def movie_slug_generate(*, title: str, release_date: date, exclude_pk: int | None = None) -> str:
    """A slug no other movie holds. Fetches the taken candidates in one query;
    the unique constraint still settles a race with a concurrent writer."""
    base = slug_base(title)
    taken_query = Movie.objects.filter(slug__startswith=base)
    if exclude_pk is not None:
        taken_query = taken_query.exclude(pk=exclude_pk)
    taken = set(taken_query.values_list("slug", flat=True))
    return next(slug for slug in slug_candidates(title, release_date) if slug not in taken)


def _resolve_references(
    *, genre_slugs: Iterable[str], director_id: int | None
) -> tuple[list[Genre], Person | None]:
    """(genres, director) rows for the given slugs and id, or UnknownReferences."""
    wanted = list(dict.fromkeys(genre_slugs))
    # An empty __in is answered without a query.
    genres = list(Genre.objects.filter(slug__in=wanted))
    found = {genre.slug for genre in genres}
    unknown_genres = [slug for slug in wanted if slug not in found]
    director = None
    unknown_director = None
    if director_id is not None:
        director = Person.objects.filter(pk=director_id).first()
        if director is None:
            unknown_director = director_id
    if unknown_genres or unknown_director is not None:
        raise UnknownReferences(genres=unknown_genres, director=unknown_director)
    return genres, director


def _check_unique(*, movie: Movie) -> None:
    others = Movie.objects.exclude(pk=movie.pk) if movie.pk else Movie.objects.all()
    if others.filter(title=movie.title, release_date=movie.release_date).exists():
        raise MovieConflict(
            "title",
            f"A movie titled {movie.title!r} released on {movie.release_date.isoformat()} "
            "already exists.",
        )
    if others.filter(slug=movie.slug).exists():
        raise MovieConflict("slug", f"The slug {movie.slug!r} is taken by another movie.")


def _save(movie: Movie) -> None:
    """Save inside a savepoint, turning a lost race on a unique value into
    MovieConflict instead of a 500."""
    try:
        with transaction.atomic():
            movie.save()
    except IntegrityError as exc:
        # The checks above found no duplicate, so a concurrent writer took the
        # value in the meantime; the check constraints are guarded by the
        # callers' validation.
        raise MovieConflict(
            "title", "Another movie with this title and release date, or this slug, was just saved."
        ) from exc


@transaction.atomic
def movie_create(
    *,
    title: str,
    release_date: date,
    rating: int,
    duration: timedelta,
    director_id: int | None = None,
    genres: list[str] | tuple[str, ...] = (),
    slug: str | None = None,
) -> Movie:
    """Create a movie. ``genres`` are genre slugs, ``director_id`` a person's
    id; both must exist. Without a ``slug`` one is generated from the title
    (plus the year when taken)."""
    genre_rows, director = _resolve_references(genre_slugs=genres, director_id=director_id)
    movie = Movie(
        title=title,
        release_date=release_date,
        rating=rating,
        duration=duration,
        director=director,
        slug=slug or movie_slug_generate(title=title, release_date=release_date),
    )
    _check_unique(movie=movie)
    _save(movie)
    movie.genres.set(genre_rows)
    return movie


@transaction.atomic
def movie_update(
    *,
    movie: Movie,
    title: str | _Unset = _UNSET,
    release_date: date | _Unset = _UNSET,
    rating: int | _Unset = _UNSET,
    duration: timedelta | _Unset = _UNSET,
    director_id: int | None | _Unset = _UNSET,
    genres: list[str] | tuple[str, ...] | _Unset = _UNSET,
    slug: str | _Unset = _UNSET,
) -> Movie:
    """Change the given fields only (PUT passes them all, PATCH some) and
    return the saved movie. ``director_id=None`` clears the director;
    ``genres`` replaces the set. The slug changes only when passed: links
    survive a retitling. The row is locked while it changes, so concurrent
    updates of different fields do not undo each other; Movie.DoesNotExist
    means it was deleted meanwhile."""
    movie = Movie.objects.select_for_update().get(pk=movie.pk)
    genre_rows, director = _resolve_references(
        genre_slugs=() if genres is _UNSET else genres,
        director_id=None if director_id is _UNSET else director_id,
    )
    changes: dict[str, object] = {
        "title": title,
        "release_date": release_date,
        "rating": rating,
        "duration": duration,
        "slug": slug,
    }
    for field, value in changes.items():
        if value is not _UNSET:
            setattr(movie, field, value)
    if director_id is not _UNSET:
        movie.director = director
    _check_unique(movie=movie)
    _save(movie)
    if genres is not _UNSET:
        movie.genres.set(genre_rows)
    return movie


@transaction.atomic
def movie_delete(*, movie: Movie) -> None:
    movie.delete()
