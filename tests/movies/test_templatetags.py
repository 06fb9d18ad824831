"""How running times and ratings read on the movie pages."""

from datetime import timedelta

import pytest
from django.template import Context, Template

from movies.templatetags.movies import iso_duration, rating_band, running_time


@pytest.mark.parametrize(
    ("duration", "shown"),
    [
        (timedelta(hours=2, minutes=19), "2 h 19 min"),
        (timedelta(hours=2, minutes=55, seconds=59), "2 h 55 min"),
        (timedelta(hours=1, minutes=5), "1 h 05 min"),
        (timedelta(hours=3), "3 h 00 min"),
        (timedelta(minutes=45), "45 min"),
        (None, ""),
    ],
)
def test_running_time(duration, shown):
    assert running_time(duration) == shown


def test_iso_duration():
    assert iso_duration(timedelta(hours=2, minutes=19)) == "P0DT02H19M00S"
    assert iso_duration(None) == ""


@pytest.mark.parametrize(
    ("rating", "band"),
    [(100, "high"), (80, "high"), (79, "mid"), (60, "mid"), (59, "low"), (0, "low")],
)
def test_rating_band(rating, band):
    assert rating_band(rating) == band


def test_rating_reads_out_of_100_in_a_template():
    html = Template(
        '{% load movies %}<span class="rating-{{ r|rating_band }}">{{ r }}/100</span>'
    ).render(Context({"r": 87}))
    assert html == '<span class="rating-high">87/100</span>'
