"""API schemas: one per direction and operation.

Output shape of a movie (list items and detail alike)::

    {"id", "title", "slug", "release_date": "YYYY-MM-DD", "year", "rating",
     "duration": "HH:MM:SS", "director": {"id", "name"} | null,
     "genres": [{"slug", "name"}]}

Input schemas are strict: unknown fields, wrong JSON types ("87" for a
rating, true for an id) and out-of-range values are 422s naming the field.
"""

from datetime import date, timedelta
from typing import Annotated

from ninja import Field, Schema
from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)

from config.pagination import COUNT_DESCRIPTION, NEXT_DESCRIPTION, PREVIOUS_DESCRIPTION
from config.schemas import MAX_ID, TEXT_PATTERN, JsonInt, SearchText
from movies.durations import format_running_time, parse_running_time
from movies.models import (
    GENRE_NAME_MAX_LENGTH,
    RATING_MAX,
    RATING_MIN,
    SLUG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    YEAR_MAX,
    YEAR_MIN,
)
from movies.selectors import DEFAULT_MOVIE_ORDERING, MovieOrdering

SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
MAX_GENRES_PER_MOVIE = 20

Title = Annotated[
    str,
    StringConstraints(
        strict=True,
        strip_whitespace=True,
        min_length=1,
        max_length=TITLE_MAX_LENGTH,
        pattern=TEXT_PATTERN,
    ),
]
Slug = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, max_length=SLUG_MAX_LENGTH, pattern=SLUG_PATTERN
    ),
]
GenreSlug = Annotated[
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, max_length=GENRE_NAME_MAX_LENGTH, pattern=SLUG_PATTERN
    ),
]
Rating = Annotated[JsonInt, Field(ge=RATING_MIN, le=RATING_MAX)]
Id = Annotated[JsonInt, Field(ge=1, le=MAX_ID)]


# Output ---------------------------------------------------------------------


class RowOut(BaseModel):
    """Output schemas validated from plain dicts (movie_dict)
    or model instances with plain fields. Plain pydantic rather than ninja's
    Schema: ninja's wraps every object, nested ones too, in a getter meant for
    lazy ORM relations, which cost more than the rest of the 10-movie page."""

    model_config = ConfigDict(from_attributes=True)


class DirectorOut(RowOut):
    id: int
    name: str


class GenreOut(RowOut):
    slug: str
    name: str


class PersonOut(Schema):
    id: int
    name: str


class MovieOut(RowOut):
    """Built from plain rows by movie_dict, which computes
    ``year`` and formats ``duration``."""

    id: int
    title: str
    slug: str
    release_date: date
    year: int
    rating: int = Field(description="0–100.")
    duration: str = Field(description='Running time, "HH:MM:SS".', examples=["02:16:00"])
    director: DirectorOut | None
    genres: list[GenreOut]


class MoviePageOut(RowOut):
    items: list[MovieOut]
    count: int | None = Field(description=COUNT_DESCRIPTION)
    next: str | None = Field(description=NEXT_DESCRIPTION)
    previous: str | None = Field(description=PREVIOUS_DESCRIPTION)


def movie_dict(row: dict) -> dict:
    """A MovieOut dict from a row of ``movies.selectors.movie_rows``."""
    return {
        "id": row["id"],
        "title": row["title"],
        "slug": row["slug"],
        "release_date": row["release_date"],
        "year": row["release_date"].year,
        "rating": row["rating"],
        "duration": format_running_time(row["duration"]),
        "director": (
            {"id": row["director_id"], "name": row["director__name"]}
            if row["director_id"] is not None
            else None
        ),
        "genres": row["genre_list"],
    }


# Input ----------------------------------------------------------------------


def _release_date(value):
    # Lax date parsing would take a number as a Unix timestamp.
    if not isinstance(value, str):
        raise ValueError('expected a date string "YYYY-MM-DD"')
    return value


def _check_year(value: date | None) -> date | None:
    if value is not None and not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"the year must be between {YEAR_MIN} and {YEAR_MAX}")
    return value


def _running_time(value):
    if not isinstance(value, str):
        raise ValueError('expected a string "HH:MM:SS" or ISO 8601 such as "PT2H16M"')
    return parse_running_time(value)


class _MovieIn(Schema):
    model_config = ConfigDict(extra="forbid")

    @field_validator("release_date", mode="before", check_fields=False)
    @classmethod
    def release_date_is_a_string(cls, value):
        return _release_date(value)

    @field_validator("release_date", check_fields=False)
    @classmethod
    def release_year_in_range(cls, value):
        return _check_year(value)

    @field_validator("duration", mode="before", check_fields=False)
    @classmethod
    def parse_duration(cls, value):
        return _running_time(value)


class MovieCreateIn(_MovieIn):
    """A new movie. ``genres`` are genre slugs and ``director_id`` a person's
    id, as listed by /api/genres and /api/people; unknown ones are a 422.
    ``slug`` defaults to one made from the title (plus the year if taken)."""

    title: Title
    release_date: date = Field(description='"YYYY-MM-DD"')
    rating: Rating
    duration: timedelta = Field(
        description='Running time, "HH:MM:SS" or ISO 8601.', examples=["02:16:00"]
    )
    director_id: Id | None = None
    genres: list[GenreSlug] = Field(default_factory=list, max_length=MAX_GENRES_PER_MOVIE)
    slug: Slug | None = None


class MovieUpdateIn(MovieCreateIn):
    """A full replacement (PUT): omitted optional fields are cleared
    (no director, no genres), except ``slug``, which is kept when omitted."""


class MoviePatchIn(_MovieIn):
    """A partial update (PATCH): only the fields sent change. ``null`` is
    allowed only for ``director_id`` (clears the director)."""

    # Defaults are not validated, so an omitted field stays None and is left
    # out by exclude_unset, while an explicit null fails the type: a 422.
    # The types say what a sent value must be, hence the ignores.
    title: Title = None  # type: ignore[assignment]
    release_date: date = None  # type: ignore[assignment]
    rating: Rating = None  # type: ignore[assignment]
    duration: timedelta = None  # type: ignore[assignment]
    director_id: Id | None = None
    genres: list[GenreSlug] = Field(None, max_length=MAX_GENRES_PER_MOVIE)  # type: ignore[arg-type]
    slug: Slug = None  # type: ignore[assignment]


class MovieFilters(Schema):
    """Query parameters of GET /api/movies; all optional and combined with AND."""

    genre: str | None = Field(
        None, max_length=GENRE_NAME_MAX_LENGTH, pattern=SLUG_PATTERN, description="Genre slug."
    )
    director: int | None = Field(None, ge=1, le=MAX_ID, description="Director's person id.")
    year: int | None = Field(None, ge=YEAR_MIN, le=YEAR_MAX, description="Release year.")
    year_min: int | None = Field(
        None, ge=YEAR_MIN, le=YEAR_MAX, description="Released in or after."
    )
    year_max: int | None = Field(
        None, ge=YEAR_MIN, le=YEAR_MAX, description="Released in or before; not before year_min."
    )
    min_rating: int | None = Field(None, ge=RATING_MIN, le=RATING_MAX)
    q: SearchText | None = Field(
        None,
        description="Title search: full-text (English, prefix on the last word) on "
        "PostgreSQL, case-insensitive substring elsewhere.",
    )
    ordering: MovieOrdering = Field(
        DEFAULT_MOVIE_ORDERING, description="A field, or -field for descending order."
    )

    @model_validator(mode="after")
    def year_range_is_ordered(self):
        if (
            self.year_min is not None
            and self.year_max is not None
            and self.year_min > self.year_max
        ):
            raise ValueError("year_min must not be greater than year_max")
        return self


class SearchFilters(Schema):
    q: SearchText | None = Field(None, description="Case-insensitive name search.")
