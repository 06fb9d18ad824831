"""Genres, people and movies.

Invariants live in the database (check and unique constraints), so they hold
for every writer: the API, the admin, the import and seed commands, and any
process or host that shares the database.
"""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

RATING_MIN = 0
RATING_MAX = 100
TITLE_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 255
PERSON_NAME_MAX_LENGTH = 200
GENRE_NAME_MAX_LENGTH = 50
# Release years a movie may have; checked where movies come in (the API's
# schemas, the import), not by the database.
YEAR_MIN = 1870
YEAR_MAX = 2100
# The longest released films run for days; anything beyond this is a typo
# (and would overflow some duration representations).
DURATION_MAX = timedelta(hours=1000)


class Genre(models.Model):
    name = models.CharField(max_length=GENRE_NAME_MAX_LENGTH, unique=True)
    slug = models.SlugField(max_length=GENRE_NAME_MAX_LENGTH, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Person(models.Model):
    """Someone credited on a film. Names are not unique: two people may share
    one, so imports match a name to its oldest row (see import_movies)."""

    name = models.CharField(max_length=PERSON_NAME_MAX_LENGTH, db_index=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "people"

    def __str__(self):
        return self.name


class Movie(models.Model):
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    # Generated from the title (plus the year when taken) by the services; it
    # stays put when the title changes, so links keep working.
    slug = models.SlugField(max_length=SLUG_MAX_LENGTH, unique=True)
    release_date = models.DateField(db_index=True)
    rating = models.PositiveSmallIntegerField(
        db_index=True,
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)],
        help_text="0–100.",
    )
    duration = models.DurationField(help_text="Running time, e.g. 02:16:00.")
    # One director per film: the first credited one when a film has several
    # (The Matrix: Lana Wachowski, with Lilly Wachowski). Nullable because
    # imports may not know it; PROTECT because deleting a person must not
    # silently strip films of their director (the admin lists the films).
    director = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="directed_movies",
        help_text="The first credited director.",
    )
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="movie_rating_between_0_and_100",
                violation_error_message="The rating must be between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=models.Q(duration__gt=timedelta(0)),
                name="movie_duration_positive",
                violation_error_message="The running time must be positive.",
            ),
            # The import's upsert key; its index also serves ordering by title.
            models.UniqueConstraint(
                fields=["title", "release_date"],
                name="movie_unique_title_release_date",
                violation_error_message="A movie with this title and release date exists.",
            ),
        ]
        # director (FK) and genres (M2M through table) are indexed by Django;
        # release_date and rating carry db_index. On PostgreSQL a GIN index
        # serves the full-text title search (migration 0002).

    def __str__(self):
        return f"{self.title} ({self.release_date.year})"

    def get_absolute_url(self):
        return reverse("movies:detail", kwargs={"slug": self.slug})

    @property
    def year(self) -> int:
        return self.release_date.year
