"""The movie pages as a visitor sees them."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from movies.views import PAGE_SIZE
from tests.movies.factories import make_genre, make_movie, make_person

pytestmark = pytest.mark.django_db


def page_titles(response) -> list[str]:
    return re.findall(r'<td><a href="/movies/[^"]+/">([^<]+)</a></td>', response.content.decode())


def test_list_shows_every_classic_linking_to_its_page(client, classics):
    response = client.get("/movies/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Movies · Reel &amp; Shelf</title>" in html
    assert "11 films." in html
    assert len(page_titles(response)) == 11
    assert '<a href="/movies/the-matrix/">The Matrix</a>' in html
    assert '<a href="/movies/12-angry-men/">12 Angry Men</a>' in html
    assert "Francis Ford Coppola" in html
    assert 'role="search"' in html


def test_search_box_filters_by_title(client, classics):
    response = client.get("/movies/", {"q": "godfather"})
    assert page_titles(response) == ["The Godfather", "The Godfather: Part II"]
    assert 'value="godfather"' in response.content.decode()
    assert "2 films found." in response.content.decode()


def test_genre_filter(client, classics):
    response = client.get("/movies/", {"genre": "western"})
    assert page_titles(response) == ["The Good, the Bad and the Ugly"]
    assert '<option value="western" selected>Western</option>' in response.content.decode()


def test_no_match_says_so(client, classics):
    response = client.get("/movies/", {"q": "zzzz"})
    assert response.status_code == 200
    assert page_titles(response) == []
    assert "No films match." in response.content.decode()


def test_unknown_genre_is_an_empty_list_with_the_error_shown(client, classics):
    # One rule for pages and API: an unknown filter value matches nothing.
    response = client.get("/movies/", {"genre": "no-such-genre", "q": "godfather"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error"' in html
    assert page_titles(response) == []
    assert "No films match." in html


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_an_unknown_genre_the_same_way(client, classics):
    known = client.get("/api/movies", {"genre": "western"})
    assert [m["title"] for m in known.json()["items"]] == ["The Good, the Bad and the Ugly"]
    response = client.get("/api/movies", {"genre": "no-such-genre"})
    assert response.status_code == 200
    assert response.json() == {"items": [], "count": 0, "next": None, "previous": None}


def test_pagination_keeps_the_search_and_genre(client):
    drama = make_genre("Drama")
    for i in range(PAGE_SIZE + 5):
        make_movie(f"Drama {i:02d}", genres=[drama])
    make_movie("Drama but not a drama")
    first = client.get("/movies/", {"q": "drama", "genre": "drama"})
    html = first.content.decode()
    assert len(page_titles(first)) == PAGE_SIZE
    assert f"{PAGE_SIZE + 5} films found." in html
    next_link = re.search(r'<a href="([^"]+)" rel="next">', html).group(1).replace("&amp;", "&")
    assert "q=drama" in next_link and "genre=drama" in next_link and "page=2" in next_link
    second = client.get("/movies/" + next_link)
    assert page_titles(second) == [f"Drama {i:02d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert 'rel="prev"' in second.content.decode()
    assert "<title>Movies matching your search, page 2" in second.content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "999", "1.5", "9" * 30])
def test_bad_page_numbers_show_a_page_not_an_error(client, classics, page):
    response = client.get("/movies/", {"page": page})
    assert response.status_code == 200
    assert len(page_titles(response)) == 11


def test_overlong_search_is_reported_and_ignored(client, classics):
    response = client.get("/movies/", {"q": "x" * 500})
    assert response.status_code == 200
    assert len(page_titles(response)) == 11
    assert 'class="error"' in response.content.decode()


def test_list_page_runs_a_fixed_number_of_queries(client):
    genres = [make_genre(f"Genre {i}") for i in range(3)]
    director = make_person("Someone")
    counts = []
    for total in (3, PAGE_SIZE):
        while len(page_titles(client.get("/movies/"))) < total:
            make_movie(director=director, genres=genres)
        with CaptureQueriesContext(connection) as queries:
            assert len(page_titles(client.get("/movies/"))) == total
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_detail_page(client, classics):
    response = client.get("/movies/the-godfather/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>The Godfather (1972) · Reel &amp; Shelf</title>" in html
    assert "<h1>The Godfather" in html
    assert "Francis Ford Coppola" in html
    assert '<time datetime="1972-03-24">24 March 1972</time>' in html
    assert "2 h 55 min" in html
    assert "92/100" in html
    assert '<a href="/movies/?genre=crime">Crime</a>' in html
    assert '<a href="/movies/">' in html


def test_detail_page_without_director_or_genres(client):
    make_movie("Anonymous", slug="anonymous")
    response = client.get("/movies/anonymous/")
    assert response.status_code == 200
    assert "Unknown" in response.content.decode()
    assert "None listed" in response.content.decode()


def test_unknown_slug_is_the_sites_404_page(client, classics):
    response = client.get("/movies/no-such-film/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "<title>Page not found · Reel &amp; Shelf</title>" in html


def test_navigation_links_to_the_movies(client, classics):
    html = client.get("/movies/the-matrix/").content.decode()
    assert '<nav aria-label="Main">' in html
    assert '<a href="/movies/">Movies</a>' in html
