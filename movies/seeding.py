"""Deterministic synthetic movies for load tests.

``movie_seed(count=N, seed=S)`` generates the same N movies for the same S on
any database: every value comes from ``random.Random(S)``, never from what
the database holds. Slugs end in ``-s<seed>-<n>``, so a rerun with the same
seed skips the movies it already made, and the rows never clash with real
slugs. Rows are written with bulk inserts, in batches, in one transaction.
"""

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from movies.importing import MovieRecord, people_by_name
from movies.models import Genre, Movie

# fmt: off
GENRES = [
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western"
]
_ADJECTIVES = [
    "Silent", "Crimson", "Hidden", "Last", "Golden", "Broken", "Distant", "Eternal", "Frozen",
    "Wild", "Lonely", "Burning", "Secret", "Lost", "Bright", "Dark", "Hollow", "Restless",
    "Savage", "Gentle", "Midnight", "Northern", "Painted", "Shattered", "Sleeping", "Stolen",
    "Velvet", "Wandering", "Iron", "Paper", "Glass", "Electric", "Forgotten", "Quiet",
    "Scarlet", "Silver", "Endless", "Fallen", "Final", "Hungry"
]
_NOUNS = [
    "River", "Harbor", "Empire", "Garden", "Horizon", "Kingdom", "Shadow", "Mirror", "Station",
    "Voyage", "Frontier", "Promise", "Witness", "Storm", "Island", "Letter", "Orchard",
    "Signal", "Summer", "Winter", "Engine", "Lantern", "Citadel", "Circus", "Desert", "Forest",
    "Highway", "Machine", "Memory", "Ocean", "Palace", "Prophet", "Stranger", "Tower", "Valley",
    "Verdict", "Whisper", "Wolf", "Heart", "Crown"
]
_PATTERNS = ("{adj} {noun}", "The {adj} {noun}", "{noun} of the {noun2}", "The {noun}")
_FIRST_NAMES = [
    "Ava", "Ben", "Clara", "David", "Elena", "Farid", "Grace", "Hiro", "Ingrid", "Jonas",
    "Kemal", "Lena", "Marco", "Nadia", "Omar", "Paula", "Quentin", "Rosa", "Samir", "Tilda",
    "Umberto", "Vera", "Walter", "Ximena", "Yusuf", "Zoe", "Agnes", "Bruno", "Chiara", "Dmitri",
    "Esther", "Felix", "Greta", "Hugo", "Isabel", "Jakob", "Keiko", "Luca", "Mira", "Nils"
]
_LAST_NAMES = [
    "Lindqvist", "Moreau", "Okafor", "Petrov", "Quiroga", "Rossi", "Sato", "Tanaka", "Varga",
    "Weber", "Novak", "Haddad", "Keller", "Larsen", "Mendes", "Nakamura", "Oliveira", "Park",
    "Romero", "Schmidt", "Toivonen", "Ueda", "Vidal", "Wójcik", "Yilmaz", "Zhang", "Almeida",
    "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat", "Ivanova", "Jensen",
    "Kowalski", "Lopez", "Meyer", "Nilsson"
]
# fmt: on
_ROMAN = ["", " II", " III", " IV", " V", " VI", " VII", " VIII", " IX", " X"]
_FIRST_DAY = date(1920, 1, 1)
_DAYS = (date(2025, 12, 31) - _FIRST_DAY).days
BATCH_SIZE = 5000


@dataclass
class SeedResult:
    created: int = 0
    existing: int = 0


def _generate(count: int, seed: int) -> Iterator[tuple[str, MovieRecord]]:
    """(slug, record) for each of ``count`` synthetic movies."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    director_count = min(max(count // 20, 1), len(_FIRST_NAMES) * len(_LAST_NAMES))
    directors = [f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]
    directors = rng.sample(directors, director_count)
    used: set[tuple[str, date]] = set()
    for n in range(count):
        adj, noun, noun2 = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
        base = rng.choice(_PATTERNS).format(adj=adj, noun=noun, noun2=noun2)
        release_date = _FIRST_DAY + timedelta(days=rng.randrange(_DAYS))
        # Sequels keep (title, release date) unique within a run.
        title = base
        sequel = 0
        while (title, release_date) in used:
            sequel += 1
            title = f"{base}{_ROMAN[sequel]}" if sequel < len(_ROMAN) else f"{base} {sequel + 1}"
        used.add((title, release_date))
        yield (
            f"{slugify(title)}-s{seed}-{n}",
            MovieRecord(
                title=title,
                release_date=release_date,
                rating=min(100, max(0, round(rng.gauss(65, 14)))),
                duration=timedelta(minutes=rng.randint(70, 200)),
                director=rng.choice(directors),
                genres=rng.sample(GENRES, rng.choice((1, 1, 2, 2, 2, 3))),
            ),
        )


def _ensure_genres() -> dict[str, int]:
    by_slug = dict(Genre.objects.values_list("slug", "id"))
    missing = [
        Genre(name=name, slug=slugify(name)) for name in GENRES if slugify(name) not in by_slug
    ]
    for genre in Genre.objects.bulk_create(missing):
        by_slug[genre.slug] = genre.pk
    return {name: by_slug[slugify(name)] for name in GENRES}


@transaction.atomic
def movie_seed(
    *, count: int, seed: int = 0, on_progress: Callable[[int, int], None] | None = None
) -> SeedResult:
    """Insert ``count`` synthetic movies (deterministic for ``seed``); rows a
    previous run with the same seed made are left as they are."""
    synthetic = list(_generate(count, seed))
    genre_ids = _ensure_genres()
    director_ids = people_by_name({m.director for _, m in synthetic if m.director})
    Through = Movie.genres.through
    result = SeedResult()
    now = timezone.now()
    for start in range(0, count, BATCH_SIZE):
        batch = synthetic[start : start + BATCH_SIZE]
        existing = set(
            Movie.objects.filter(slug__in=[slug for slug, _ in batch]).values_list(
                "slug", flat=True
            )
        )
        # A real movie may hold a generated (title, release date): skip it.
        clashes = set(
            Movie.objects.filter(title__in={m.title for _, m in batch}).values_list(
                "title", "release_date"
            )
        )
        fresh = [(slug, m) for slug, m in batch if slug not in existing and m.key not in clashes]
        result.existing += len(batch) - len(fresh)
        movies = Movie.objects.bulk_create(
            [
                Movie(
                    title=m.title,
                    slug=slug,
                    release_date=m.release_date,
                    rating=m.rating,
                    duration=m.duration,
                    director_id=director_ids[m.director] if m.director else None,
                    created=now,
                    updated=now,
                )
                for slug, m in fresh
            ]
        )
        Through.objects.bulk_create(
            [
                Through(movie_id=movie.pk, genre_id=genre_ids[name])
                for movie, (_, m) in zip(movies, fresh, strict=True)
                for name in m.genres
            ]
        )
        result.created += len(movies)
        if on_progress is not None:
            on_progress(min(start + BATCH_SIZE, count), count)
    return result
