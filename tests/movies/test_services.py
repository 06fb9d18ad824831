from datetime import date, timedelta

import pytest

from movies.models import Movie
from movies.services import (
    MovieConflict,
    UnknownReferences,
    movie_create,
    movie_delete,
    movie_update,
)
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db


def create(**fields):
    values = {
        "title": "Playtime",
        "release_date": date(1967, 12, 16),
        "rating": 79,
        "duration": timedelta(minutes=124),
    }
    values.update(fields)
    return movie_create(**values)


def test_create_sets_relations_and_a_slug_from_the_title():
    drama, comedy = make_genre("Drama"), make_genre("Comedy")
    tati = make_person("Jacques Tati")
    movie = create(director_id=tati.pk, genres=[comedy.slug, drama.slug])
    movie.refresh_from_db()
    assert movie.slug == "playtime"
    assert movie.director == tati
    assert set(movie.genres.all()) == {drama, comedy}


def test_slug_falls_back_to_title_and_year_then_a_counter():
    first = create(title="Solaris", release_date=date(1972, 3, 20))
    second = create(title="Solaris", release_date=date(2002, 11, 27))
    make_movie("Solaris again", slug="solaris-2010")
    third = create(title="Solaris", release_date=date(2010, 1, 1))
    fourth = create(title="Solaris!", release_date=date(2010, 2, 2))
    assert [first.slug, second.slug, third.slug, fourth.slug] == [
        "solaris",
        "solaris-2002",
        "solaris-2010-2",
        "solaris-2010-3",
    ]


def test_a_title_without_latin_letters_still_gets_a_slug():
    movie = create(title="千と千尋の神隠し", release_date=date(2001, 7, 20))
    assert movie.slug == "movie"


def test_unknown_genres_and_director_are_refused_and_nothing_is_written():
    make_genre("Drama")
    with pytest.raises(UnknownReferences) as excinfo:
        create(genres=["drama", "nope", "zilch"], director_id=999_999)
    assert excinfo.value.genres == ["nope", "zilch"]
    assert excinfo.value.director == 999_999
    assert not Movie.objects.exists()


def test_duplicate_title_and_release_date_is_a_conflict():
    create()
    with pytest.raises(MovieConflict) as excinfo:
        create(rating=10)
    assert excinfo.value.field == "title"
    assert Movie.objects.count() == 1


def test_duplicate_slug_is_a_conflict():
    create(slug="taken")
    with pytest.raises(MovieConflict) as excinfo:
        create(title="Other", slug="taken")
    assert excinfo.value.field == "slug"


def test_update_changes_only_the_given_fields_and_keeps_the_slug():
    genre = make_genre("Comedy")
    movie = create(genres=[genre.slug], director_id=make_person().pk)
    updated = movie_update(movie=movie, title="Play Time", rating=80)
    updated.refresh_from_db()
    assert (updated.title, updated.rating, updated.slug) == ("Play Time", 80, "playtime")
    assert list(updated.genres.all()) == [genre]
    assert updated.director is not None


def test_update_can_clear_director_and_replace_genres():
    comedy, drama = make_genre("Comedy"), make_genre("Drama")
    movie = create(genres=[comedy.slug], director_id=make_person().pk)
    movie_update(movie=movie, director_id=None, genres=[drama.slug])
    movie.refresh_from_db()
    assert movie.director is None
    assert list(movie.genres.all()) == [drama]


def test_update_into_another_movies_title_and_date_is_a_conflict():
    create()
    other = create(title="Mon Oncle", release_date=date(1958, 5, 10))
    with pytest.raises(MovieConflict):
        movie_update(movie=other, title="Playtime", release_date=date(1967, 12, 16))
    other.refresh_from_db()
    assert other.title == "Mon Oncle"


def test_failed_update_leaves_genres_untouched():
    comedy = make_genre("Comedy")
    movie = create(genres=[comedy.slug])
    with pytest.raises(UnknownReferences):
        movie_update(movie=movie, genres=["nope"], rating=1)
    movie.refresh_from_db()
    assert movie.rating == 79
    assert list(movie.genres.all()) == [comedy]


def test_delete():
    movie = create()
    movie_delete(movie=movie)
    assert not Movie.objects.exists()
