"""Small factories for movies tests: each call makes a valid, unique row."""

import itertools
from datetime import date, timedelta

from django.utils.text import slugify

from movies.models import Genre, Movie, Person

_counter = itertools.count(1)


def make_genre(name: str | None = None, **fields) -> Genre:
    name = name or f"Genre {next(_counter)}"
    fields.setdefault("slug", slugify(name))
    return Genre.objects.create(name=name, **fields)


def make_person(name: str | None = None) -> Person:
    return Person.objects.create(name=name or f"Person {next(_counter)}")


def make_movie(title: str | None = None, *, genres=(), **fields) -> Movie:
    n = next(_counter)
    title = title or f"Movie {n}"
    fields.setdefault("slug", f"{slugify(title)}-{n}")
    fields.setdefault("release_date", date(2000, 1, 1))
    fields.setdefault("rating", 70)
    fields.setdefault("duration", timedelta(minutes=100))
    movie = Movie.objects.create(title=title, **fields)
    movie.genres.set(genres)
    return movie
