from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from movies.models import Genre, Movie, Person
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rating", [-1, 101, 1000])
def test_database_rejects_a_rating_outside_0_to_100(rating):
    movie = make_movie()
    # Bypass model validation: the constraint must hold for any writer.
    with pytest.raises(IntegrityError), transaction.atomic():
        Movie.objects.filter(pk=movie.pk).update(rating=rating)


@pytest.mark.parametrize("rating", [0, 100])
def test_ratings_at_the_bounds_are_allowed(rating):
    movie = make_movie(rating=rating)
    movie.refresh_from_db()
    assert movie.rating == rating


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-5)])
def test_database_rejects_a_running_time_that_is_not_positive(duration):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_movie(duration=duration)


def test_slugs_are_unique():
    make_movie("Alien", slug="alien")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_movie("Aliens", slug="alien")


def test_title_and_release_date_are_unique_together():
    make_movie("Solaris", release_date=date(1972, 3, 20))
    make_movie("Solaris", release_date=date(2002, 11, 27))  # the remake is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        make_movie("Solaris", release_date=date(1972, 3, 20))


def test_genre_names_and_slugs_are_unique():
    make_genre("Drama", slug="drama")
    with pytest.raises(IntegrityError), transaction.atomic():
        Genre.objects.create(name="Drama", slug="drama-2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Genre.objects.create(name="Dramas", slug="drama")


def test_a_person_who_directed_films_cannot_be_deleted():
    director = make_person("Agnès Varda")
    make_movie("Cléo from 5 to 7", director=director)
    with pytest.raises(ProtectedError):
        director.delete()
    assert Person.objects.filter(pk=director.pk).exists()


def test_deleting_a_movie_keeps_its_genres_and_director():
    genre, director = make_genre("Noir"), make_person("Jules Dassin")
    movie = make_movie("Rififi", genres=[genre], director=director)
    movie.delete()
    assert Genre.objects.filter(pk=genre.pk).exists()
    assert Person.objects.filter(pk=director.pk).exists()


def test_str_and_url():
    movie = make_movie("Stalker", slug="stalker", release_date=date(1979, 5, 25))
    assert str(movie) == "Stalker (1979)"
    assert movie.year == 1979
    assert movie.get_absolute_url() == "/movies/stalker/"


def test_fixture_has_the_eleven_classics_with_corrected_facts(classics):
    assert classics.count() == 11
    titles = set(classics.values_list("title", flat=True))
    assert {
        "The Matrix",
        "The Shawshank Redemption",
        "The Godfather",
        "The Godfather: Part II",
        "The Dark Knight",
        "12 Angry Men",
    } <= titles
    matrix = Movie.objects.get(slug="the-matrix")
    assert matrix.director.name == "Lana Wachowski"  # the seed misspelt it "Wachoski"
    assert matrix.duration == timedelta(minutes=136)  # the seed said 02:19:00
    assert sorted(matrix.genres.values_list("name", flat=True)) == ["Action", "Sci-Fi"]
    godfather = Movie.objects.get(slug="the-godfather")
    assert godfather.release_date == date(1972, 3, 24)
    assert godfather.rating == 92
    assert godfather.director.name == "Francis Ford Coppola"
    assert sorted(godfather.genres.values_list("slug", flat=True)) == ["crime", "drama"]
    # Every film has a director, at least one genre and a positive running time.
    for movie in classics:
        assert movie.director_id is not None
        assert movie.genres.exists()
        assert movie.duration > timedelta(0)


def test_fixture_loads_twice_without_duplicates(classics):
    from django.core.management import call_command

    call_command("loaddata", "movies", verbosity=0)
    assert Movie.objects.count() == 11
    assert Genre.objects.filter(slug="drama").count() == 1


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("movies_movie", "release_date"),  # year, year_min, year_max, ordering
        ("movies_movie", "rating"),  # min_rating, ordering
        ("movies_movie", "director_id"),  # director
        ("movies_movie", "title"),  # ordering (the title + release date key)
        ("movies_movie_genres", "genre_id"),  # genre
        ("movies_person", "name"),  # people search and ordering
    ],
)
def test_every_api_filter_has_an_index(table, column):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    leading = {
        c["columns"][0]
        for c in constraints.values()
        if (c["index"] or c["unique"]) and c["columns"]
    }
    assert column in leading
