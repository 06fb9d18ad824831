"""How stock and tax read on the catalog pages."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from catalog.templatetags.catalog import (
    LOW_STOCK_THRESHOLD,
    order_status_tone,
    stock_level,
    stock_state,
)


@pytest.mark.parametrize(
    ("stock", "state", "level"),
    [
        (0, "Sold out", "out"),
        (None, "Sold out", "out"),
        (1, "Only 1 left", "low"),
        (2, "Only 2 left", "low"),
        (LOW_STOCK_THRESHOLD, f"Only {LOW_STOCK_THRESHOLD} left", "low"),
        (LOW_STOCK_THRESHOLD + 1, "In stock", "in"),
        (1000, "In stock", "in"),
    ],
)
def test_stock_state_reads_as_words(stock, state, level):
    assert stock_state(stock) == state
    assert stock_level(stock) == level


def test_stock_filters_in_a_template():
    html = Template(
        '{% load catalog %}<span class="badge-{{ n|stock_level }}">{{ n|stock_state }}</span>'
    ).render(Context({"n": 2}))
    assert html == '<span class="badge-low">Only 2 left</span>'


@pytest.mark.parametrize(("rate", "shown"), [("0.10", "10%"), ("0.075", "7.5%"), ("0", "0%")])
def test_tax_percent(settings, rate, shown):
    settings.TAX_RATE = Decimal(rate)
    assert Template("{% load catalog %}{% tax_percent %}").render(Context()) == shown


def test_order_status_tones():
    assert order_status_tone("paid") == "ok"
    assert order_status_tone("pending") == "warn"
    assert order_status_tone("cancelled") == "off"
    assert order_status_tone("something-new") == "off"
