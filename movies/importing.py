"""Importing movies from CSV or JSON files.

Reading (no database): ``read_movie_file`` turns a file into MovieRecords and
RowErrors, each with the line it starts on. Fatal problems (unreadable file,
broken JSON, missing required columns) raise ImportFileError before anything
is written.

Writing: ``movie_import`` upserts records by (title, release date) in bulk,
one transaction for the whole file:

- a new (title, release date) creates a movie, with a slug made from the title;
- an existing one is updated when its rating, running time, director or
  genres differ, and counted as unchanged otherwise, so a second run of the
  same file changes nothing;
- directors are matched by exact name (the oldest person of that name) and
  genres by slug or case-insensitive name; unknown ones are created, since an
  import is how new people and genres arrive;
- a column (CSV) or key (JSON) the file does not have leaves that field of
  existing movies alone; an empty director or genre value clears it.

Accepted columns/keys: title, release_date (YYYY-MM-DD), rating (whole number
0–100), duration ("HH:MM:SS", ISO 8601 or whole minutes), director (a name),
genres or genre (a comma-separated string, or in JSON a list of names). JSON
is a list of flat objects or of Django fixture records ({"model", "pk",
"fields": {...}}), such as the seed project's movies.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from movies.durations import parse_running_time
from movies.models import (
    GENRE_NAME_MAX_LENGTH,
    PERSON_NAME_MAX_LENGTH,
    RATING_MAX,
    RATING_MIN,
    TITLE_MAX_LENGTH,
    YEAR_MAX,
    YEAR_MIN,
    Genre,
    Movie,
    Person,
)
from movies.services import slug_base, slug_candidates

REQUIRED_COLUMNS = ("title", "release_date", "rating", "duration")
OPTIONAL_COLUMNS = ("director", "genres")
COLUMN_ALIASES = {"genre": "genres"}
CHUNK_SIZE = 500

_ABSENT = object()
_SPACES = re.compile(r"\s+")


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing has been written."""


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


@dataclass
class MovieRecord:
    line: int
    title: str
    release_date: date
    rating: int
    duration: timedelta
    # _ABSENT: the file has no such column; keep what the database holds.
    director: str | None | object = _ABSENT
    genres: list[str] | object = _ABSENT

    @property
    def key(self) -> tuple[str, date]:
        return (self.title, self.release_date)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


# Reading ----------------------------------------------------------------------


def _clean_text(value) -> str:
    return _SPACES.sub(" ", value).strip()


def _parse_title(value) -> str:
    if not isinstance(value, str) or not _clean_text(value):
        raise ValueError("title: missing")
    title = _clean_text(value)
    if len(title) > TITLE_MAX_LENGTH:
        raise ValueError(f"title: longer than {TITLE_MAX_LENGTH} characters")
    return title


def _parse_release_date(value) -> date:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("release_date: missing")
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"release_date: {value.strip()!r} is not a date (YYYY-MM-DD)") from None
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        raise ValueError(f"release_date: the year must be between {YEAR_MIN} and {YEAR_MAX}")
    return parsed


def _parse_rating(value) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("rating: missing")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,9}", text):
            raise ValueError(f"rating: {text!r} is not a whole number")
        value = int(text)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"rating: {value!r} is not a whole number")
    if not RATING_MIN <= value <= RATING_MAX:
        raise ValueError(f"rating: {value} is outside {RATING_MIN}–{RATING_MAX}")
    return value


def _parse_duration(value) -> timedelta:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("duration: missing")
    try:
        return parse_running_time(value, allow_minutes=True)
    except ValueError as exc:
        raise ValueError(f"duration: {exc}") from None


def _parse_director(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("director: expected a name")
    name = _clean_text(value)
    if len(name) > PERSON_NAME_MAX_LENGTH:
        raise ValueError(f"director: longer than {PERSON_NAME_MAX_LENGTH} characters")
    return name or None


def _parse_genres(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        names = value.split(",")
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = value
    else:
        raise ValueError("genres: expected a comma-separated string or a list of names")
    genres: dict[str, str] = {}
    for raw in names:
        name = _clean_text(raw)
        if not name:
            continue
        if len(name) > GENRE_NAME_MAX_LENGTH:
            raise ValueError(f"genres: {name!r} is longer than {GENRE_NAME_MAX_LENGTH} characters")
        if not slugify(name):
            raise ValueError(f"genres: {name!r} has no letters or digits")
        genres.setdefault(slugify(name), name)
    return list(genres.values())


def parse_record(line: int, data: dict) -> MovieRecord:
    """A MovieRecord from one row's values, keyed by canonical column name;
    ValueError naming the field otherwise."""
    record = MovieRecord(
        line=line,
        title=_parse_title(data.get("title")),
        release_date=_parse_release_date(data.get("release_date")),
        rating=_parse_rating(data.get("rating")),
        duration=_parse_duration(data.get("duration")),
    )
    if "director" in data:
        record.director = _parse_director(data["director"])
    if "genres" in data:
        record.genres = _parse_genres(data["genres"])
    return record


def _canonical_keys(data: dict) -> dict:
    result = {}
    for key, value in data.items():
        name = str(key).strip().lower()
        result[COLUMN_ALIASES.get(name, name)] = value
    return result


def _read_csv(text: str) -> tuple[list[tuple[int, dict]], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("The file is empty.") from None
    except csv.Error as exc:
        raise ImportFileError(f"line 1: {exc}") from None
    columns = [COLUMN_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportFileError(
            f"Missing required column(s): {', '.join(missing)}. "
            f"The header is: {', '.join(header) or '(empty)'}."
        )
    duplicated = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicated:
        raise ImportFileError(f"Column(s) given twice: {', '.join(duplicated)}.")
    rows, errors = [], []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, f"unreadable CSV: {exc}"))
            continue
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(columns):
            errors.append(RowError(start, f"expected {len(columns)} values, found {len(values)}"))
            continue
        rows.append((start, dict(zip(columns, values, strict=True))))
    return rows, errors


def _read_json(text: str) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Decode the top-level list item by item, to know each item's line."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "[":
        raise ImportFileError("Expected a JSON list of movies.")
    index = _skip_space(text, index + 1)
    rows, errors = [], []
    first = True
    while True:
        if index < len(text) and text[index] == "]":
            break
        if not first:
            if index >= len(text) or text[index] != ",":
                raise ImportFileError(_json_position(text, index, "expected ',' or ']'"))
            index = _skip_space(text, index + 1)
        first = False
        line = text.count("\n", 0, index) + 1
        try:
            item, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"Invalid JSON at line {exc.lineno}: {exc.msg}.") from None
        index = _skip_space(text, index)
        if not isinstance(item, dict):
            errors.append(RowError(line, "expected an object"))
            continue
        if isinstance(item.get("fields"), dict):
            item = item["fields"]  # Django fixture format
        rows.append((line, _canonical_keys(item)))
    if _skip_space(text, index + 1) < len(text):
        raise ImportFileError(_json_position(text, index + 1, "unexpected data after the list"))
    return rows, errors


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _json_position(text: str, index: int, message: str) -> str:
    return f"Invalid JSON at line {text.count(chr(10), 0, index) + 1}: {message}."


def read_movie_file(path: Path, fmt: str | None = None) -> tuple[list[MovieRecord], list[RowError]]:
    """Records in file order and the rows that cannot be imported. A later row
    with the same title and release date as an earlier one is an error, not a
    silent overwrite."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in {"csv", "json"}:
        raise ImportFileError(f"Unknown format {fmt!r}: use a .csv or .json file, or --format.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(f"No such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"Cannot read {path}: {exc}") from None
    rows, errors = _read_csv(text) if fmt == "csv" else _read_json(text)
    records: list[MovieRecord] = []
    seen: dict[tuple[str, date], int] = {}
    for line, data in rows:
        try:
            record = parse_record(line, data)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if record.key in seen:
            errors.append(RowError(line, f"same title and release date as line {seen[record.key]}"))
            continue
        seen[record.key] = line
        records.append(record)
    errors.sort(key=lambda error: error.line)
    return records, errors


# Writing ----------------------------------------------------------------------


class _References:
    """Name → id caches for people and genres, creating missing rows in bulk."""

    def __init__(self):
        self.people: dict[str, int] = {}
        self.genres: dict[str, int] = {}
        for genre_id, slug, name in Genre.objects.values_list("id", "slug", "name"):
            self.genres[slug] = genre_id
            self.genres.setdefault(slugify(name), genre_id)

    def person_ids(self, names: Iterable[str]) -> dict[str, int]:
        missing = {name for name in names if name not in self.people}
        if missing:
            for person_id, name in (
                Person.objects.filter(name__in=missing).order_by("-id").values_list("id", "name")
            ):
                self.people[name] = person_id  # descending ids: the oldest wins
            new = [Person(name=name) for name in sorted(missing - self.people.keys())]
            for person in Person.objects.bulk_create(new):
                self.people[person.name] = person.pk
        return self.people

    def genre_ids(self, names: Iterable[str]) -> dict[str, int]:
        new: dict[str, Genre] = {}
        for name in names:
            slug = slugify(name)
            if slug not in self.genres and slug not in new:
                new[slug] = Genre(name=name, slug=slug)
        for genre in Genre.objects.bulk_create(new.values()):
            self.genres[genre.slug] = genre.pk
        return self.genres


def _genre_slugs(record: MovieRecord) -> list[str]:
    return [slugify(name) for name in record.genres]


def _apply_chunk(records: list[MovieRecord], refs: _References, result: ImportResult) -> None:
    Through = Movie.genres.through
    people = refs.person_ids(
        r.director for r in records if r.director is not _ABSENT and r.director
    )
    genres = refs.genre_ids(name for r in records if r.genres is not _ABSENT for name in r.genres)
    keys = {r.key for r in records}
    existing = {
        (movie.title, movie.release_date): movie
        for movie in Movie.objects.filter(title__in={r.title for r in records})
        if (movie.title, movie.release_date) in keys
    }
    current_genres: dict[int, set[int]] = {movie.pk: set() for movie in existing.values()}
    for movie_id, genre_id in Through.objects.filter(movie_id__in=current_genres).values_list(
        "movie_id", "genre_id"
    ):
        current_genres[movie_id].add(genre_id)

    now = timezone.now()
    to_create: list[tuple[Movie, MovieRecord]] = []
    to_update: list[Movie] = []
    genre_changes: dict[int, set[int]] = {}
    for record in records:
        director_id = (
            _ABSENT
            if record.director is _ABSENT
            else (people[record.director] if record.director else None)
        )
        genre_ids = (
            _ABSENT if record.genres is _ABSENT else {genres[slug] for slug in _genre_slugs(record)}
        )
        movie = existing.get(record.key)
        if movie is None:
            movie = Movie(
                title=record.title,
                release_date=record.release_date,
                rating=record.rating,
                duration=record.duration,
                director_id=None if director_id is _ABSENT else director_id,
            )
            to_create.append((movie, record))
            continue
        changed = movie.rating != record.rating or movie.duration != record.duration
        movie.rating, movie.duration = record.rating, record.duration
        if director_id is not _ABSENT and movie.director_id != director_id:
            movie.director_id = director_id
            changed = True
        if genre_ids is not _ABSENT and current_genres[movie.pk] != genre_ids:
            genre_changes[movie.pk] = genre_ids
            changed = True
        if changed:
            movie.updated = now
            to_update.append(movie)
        else:
            result.unchanged += 1

    if to_update:
        Movie.objects.bulk_update(
            to_update, ["rating", "duration", "director", "updated"], batch_size=CHUNK_SIZE
        )
        result.updated += len(to_update)
    if to_create:
        _assign_slugs([movie for movie, _ in to_create])
        Movie.objects.bulk_create([movie for movie, _ in to_create], batch_size=CHUNK_SIZE)
        result.created += len(to_create)
        for movie, record in to_create:
            if record.genres is not _ABSENT:
                genre_changes[movie.pk] = {genres[slug] for slug in _genre_slugs(record)}
    if genre_changes:
        Through.objects.filter(movie_id__in=genre_changes).delete()
        Through.objects.bulk_create(
            [
                Through(movie_id=movie_id, genre_id=genre_id)
                for movie_id, genre_ids in genre_changes.items()
                for genre_id in sorted(genre_ids)
            ],
            batch_size=CHUNK_SIZE * 4,
        )


def _assign_slugs(movies: list[Movie]) -> None:
    """Unique slugs for new movies, with one query for the usual candidates
    (title, then title-year) of the whole chunk; rarer ones are checked one
    by one."""
    usual = [
        (slug_base(movie.title), f"{slug_base(movie.title)}-{movie.release_date.year}")
        for movie in movies
    ]
    taken = set(
        Movie.objects.filter(slug__in={slug for pair in usual for slug in pair}).values_list(
            "slug", flat=True
        )
    )
    for movie, checked in zip(movies, usual, strict=True):
        for slug in slug_candidates(movie.title, movie.release_date):
            if slug in taken:
                continue
            if slug not in checked and Movie.objects.filter(slug=slug).exists():
                taken.add(slug)
                continue
            movie.slug = slug
            taken.add(slug)
            break


@transaction.atomic
def movie_import(
    *,
    records: list[MovieRecord],
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Upsert ``records`` by (title, release date), all in one transaction:
    an exception leaves the database as it was. ``on_progress(done, total)``
    is called after each chunk."""
    result = ImportResult()
    refs = _References()
    total = len(records)
    for start in range(0, total, CHUNK_SIZE):
        _apply_chunk(records[start : start + CHUNK_SIZE], refs, result)
        if on_progress is not None:
            on_progress(min(start + CHUNK_SIZE, total), total)
    return result
