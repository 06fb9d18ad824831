"""Money arithmetic shared by the pages, the admin, the API and orders.

Prices are ``Decimal`` with two places from the database to the JSON string;
no float ever touches them.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, halves away from zero (0.005 → 0.01), as shops and
    tax authorities do; Python's default would round halves to even."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tax_rate() -> Decimal:
    return settings.TAX_RATE


def price_with_tax(price: Decimal, rate: Decimal | None = None) -> Decimal:
    """``price`` plus tax at ``rate`` (``TAX_RATE`` by default), in cents.

    Since ``price`` has two places, this equals ``price + round(price * rate)``,
    so an order's total (this applied to its subtotal) and its tax line agree.
    """
    if rate is None:
        rate = tax_rate()
    return round_money(price * (1 + rate))
