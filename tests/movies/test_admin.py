"""The movies admin as a staff member uses it."""

import html
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from movies.models import Genre, Movie, Person
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/movies/movie/"


def result_titles(response) -> list[str]:
    return [
        html.unescape(title)
        for title in re.findall(
            r'<th class="field-title"><a href="/admin/movies/movie/\d+/change/[^"]*">([^<]+)</a>',
            response.content.decode(),
        )
    ]


def test_movie_list_columns(admin_client, classics):
    response = admin_client.get(CHANGELIST, {"q": "matrix"})
    assert response.status_code == 200
    page = response.content.decode()
    assert result_titles(response) == ["The Matrix"]
    for column in ("title", "year", "director", "rating", "genre_list"):
        assert f"column-{column}" in page
    assert '<td class="field-year">1999</td>' in page
    assert re.search(r'<td class="field-director[^"]*">Lana Wachowski</td>', page)
    assert '<td class="field-rating">87</td>' in page
    assert '<td class="field-genre_list">Action, Sci-Fi</td>' in page


def test_search_by_title_and_director(admin_client, classics):
    assert result_titles(admin_client.get(CHANGELIST, {"q": "knight"})) == ["The Dark Knight"]
    assert sorted(result_titles(admin_client.get(CHANGELIST, {"q": "coppola"}))) == [
        "The Godfather",
        "The Godfather: Part II",
    ]


def test_filters_by_genre_decade_and_rating(admin_client, classics):
    western = Genre.objects.get(slug="western")
    by_genre = admin_client.get(CHANGELIST, {"genres__id__exact": western.pk})
    assert result_titles(by_genre) == ["The Good, the Bad and the Ugly"]

    decades = admin_client.get(CHANGELIST)
    for label in ("1950s", "1960s", "1970s", "1990s", "2000s"):
        assert f">{label}</a>" in decades.content.decode()
    assert ">1980s</a>" not in decades.content.decode()
    by_decade = admin_client.get(CHANGELIST, {"decade": "1970"})
    assert sorted(result_titles(by_decade)) == ["The Godfather", "The Godfather: Part II"]

    by_rating = admin_client.get(CHANGELIST, {"rating": "90"})
    assert sorted(result_titles(by_rating)) == [
        "The Dark Knight",
        "The Godfather",
        "The Godfather: Part II",
        "The Shawshank Redemption",
    ]
    assert result_titles(admin_client.get(CHANGELIST, {"rating": "70"})) == []


@pytest.mark.parametrize("params", [{"decade": "abc"}, {"decade": "99999"}, {"rating": "x"}])
def test_hand_edited_filter_values_do_not_break_the_list(admin_client, classics, params):
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    assert len(result_titles(response)) == 11


def test_date_hierarchy(admin_client, classics):
    response = admin_client.get(CHANGELIST, {"release_date__year": "1994"})
    assert sorted(result_titles(response)) == [
        "Pulp Fiction",
        "Schindler's List",
        "The Shawshank Redemption",
    ]
    page = response.content.decode()
    assert '<nav class="toplinks">' in page  # the date drill-down
    assert "release_date__month=10" in page  # October 1994, two films


@pytest.mark.parametrize(
    ("url", "make_rows"),
    [
        (CHANGELIST, "movies"),
        ("/admin/movies/person/", "people"),
        ("/admin/movies/genre/", "genres"),
    ],
)
def test_list_pages_do_not_query_per_row(admin_client, url, make_rows):
    genres = [make_genre(f"Base {i}") for i in range(2)]

    def add_rows(n):
        for _ in range(n):
            if make_rows == "movies":
                make_movie(director=make_person(), genres=genres)
            elif make_rows == "people":
                make_movie(director=make_person())
            else:
                make_movie(genres=[make_genre()])

    counts = []
    for n in (2, 20):
        add_rows(n)
        admin_client.get(url)  # warm the session and content types
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_movie_form_uses_autocomplete_for_director_and_horizontal_filter_for_genres(
    admin_client,
):
    page = admin_client.get("/admin/movies/movie/add/").content.decode()
    director = re.search(r'<select[^>]*name="director"[^>]*>', page).group(0)
    assert "admin-autocomplete" in director
    genres = re.search(r'<select[^>]*name="genres"[^>]*>', page).group(0)
    assert "selectfilter" in genres


def test_director_autocomplete_searches_people(admin_client, classics):
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "movies", "model_name": "movie", "field_name": "director", "term": "nol"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Christopher Nolan"]


def test_person_and_genre_search(admin_client, classics):
    people = admin_client.get("/admin/movies/person/", {"q": "lumet"}).content.decode()
    assert "Sidney Lumet" in people and "Christopher Nolan" not in people
    genres = admin_client.get("/admin/movies/genre/", {"q": "sci"}).content.decode()
    assert "Sci-Fi" in genres and "Western" not in genres


def movie_form(**overrides):
    data = {
        "title": "Le Trou",
        "slug": "le-trou",
        "release_date": "1960-03-18",
        "rating": "85",
        "duration": "02:11:00",
        "director": "",
        "genres": [],
    }
    data.update(overrides)
    return data


def test_adding_a_movie_in_the_admin(admin_client):
    drama = make_genre("Drama")
    director = make_person("Jacques Becker")
    response = admin_client.post(
        "/admin/movies/movie/add/",
        movie_form(director=director.pk, genres=[drama.pk]),
    )
    assert response.status_code == 302
    movie = Movie.objects.get(slug="le-trou")
    assert movie.director == director
    assert list(movie.genres.all()) == [drama]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rating": "101"}, "less than or equal to 100"),
        ({"duration": "00:00:00"}, "running time must be positive"),
        ({"slug": "taken"}, "Slug already exists"),
        ({"title": "Twin", "release_date": "2000-01-01"}, "title and release date exists"),
    ],
)
def test_admin_form_reports_broken_invariants(admin_client, overrides, message):
    make_movie("Twin", slug="taken", release_date=date(2000, 1, 1))
    response = admin_client.post("/admin/movies/movie/add/", movie_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Movie.objects.count() == 1


def test_deleting_a_director_with_films_is_refused(admin_client):
    director = make_person("Robert Bresson")
    make_movie("Pickpocket", director=director)
    response = admin_client.post(f"/admin/movies/person/{director.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200
    assert "Cannot delete" in response.content.decode()
    assert Person.objects.filter(pk=director.pk).exists()
