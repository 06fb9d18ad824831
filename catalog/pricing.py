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


def order_totals(subtotal: Decimal, rate: Decimal | None = None) -> tuple[Decimal, Decimal]:
    """``(tax, total)`` of an order whose lines add up to ``subtotal`` (net):
    tax is charged once, on the subtotal, so the cart, the checkout review and
    the placed order show the same figures."""
    total = price_with_tax(subtotal, rate)
    return total - subtotal, total


def currency_code() -> str:
    return settings.CURRENCY_CODE


def format_money(amount: Decimal | None) -> str:
    """An amount as shoppers read it: ``CURRENCY_SYMBOL``, thousands
    separators and cents ("$1,234.50", "-$3.00"); with no symbol set, the
    code follows the figure ("1,234.50 USD")."""
    if amount is None:
        return ""
    amount = round_money(Decimal(amount))
    figure = f"{abs(amount):,.2f}"
    sign = "-" if amount < 0 else ""
    symbol = settings.CURRENCY_SYMBOL
    if symbol:
        return f"{sign}{symbol}{figure}"
    return f"{sign}{figure} {settings.CURRENCY_CODE}"
