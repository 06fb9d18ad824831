from decimal import Decimal

import pytest

from catalog.pricing import price_with_tax


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("10.00", "11.00"),
        ("0.00", "0.00"),
        # 1.045 exactly: half rounds up, where banker's rounding and the
        # seed's float arithmetic both give 1.04.
        ("0.95", "1.05"),
        ("1.15", "1.27"),
        ("99999999.99", "109999999.99"),
    ],
)
def test_price_with_tax_rounds_half_up_to_cents(settings, price, expected):
    settings.TAX_RATE = Decimal("0.10")
    result = price_with_tax(Decimal(price))
    assert result == Decimal(expected)
    assert str(result) == expected


def test_price_with_tax_follows_the_tax_rate_setting(settings):
    settings.TAX_RATE = Decimal("0.21")
    assert price_with_tax(Decimal("10.00")) == Decimal("12.10")


def test_an_explicit_rate_wins_over_the_setting(settings):
    settings.TAX_RATE = Decimal("0.21")
    assert price_with_tax(Decimal("10.00"), Decimal("0.05")) == Decimal("10.50")
