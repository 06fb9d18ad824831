"""The shop's currency on every amount: pages, the API, the admin."""

from decimal import Decimal

import pytest

from catalog.pricing import format_money, order_totals
from tests.catalog.factories import make_order, make_product


@pytest.mark.parametrize(
    ("amount", "symbol", "text"),
    [
        (Decimal("0"), "$", "$0.00"),
        (Decimal("1234.5"), "$", "$1,234.50"),
        (Decimal("1234567.891"), "€", "€1,234,567.89"),
        (Decimal("-3"), "$", "-$3.00"),
        (Decimal("12.5"), "", "12.50 CHF"),
    ],
)
def test_format_money(settings, amount, symbol, text):
    settings.CURRENCY_SYMBOL = symbol
    settings.CURRENCY_CODE = "CHF"
    assert format_money(amount) == text


def test_order_totals_charge_tax_once_on_the_subtotal():
    assert order_totals(Decimal("10.05"), Decimal("0.10")) == (Decimal("1.01"), Decimal("11.06"))


@pytest.mark.django_db
def test_the_api_carries_the_currency_code(client, settings, user, auth_headers):
    settings.CURRENCY_CODE = "EUR"
    product = make_product(price=Decimal("2.00"))
    listed = client.get("/api/products").json()["items"][0]
    assert listed["currency"] == "EUR"
    assert client.get(f"/api/products/{product.pk}").json()["currency"] == "EUR"
    make_order(user=user, items=[(product, 1)])
    (order,) = client.get("/api/orders", headers=auth_headers).json()["items"]
    assert order["currency"] == "EUR"
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert "currency" in schema["OrderOut"]["required"]


@pytest.mark.django_db
def test_the_admin_shows_prices_with_the_currency(client, settings, staff_user):
    settings.CURRENCY_SYMBOL = "€"
    staff_user.is_superuser = True
    staff_user.save()
    make_product(name="Banquet Table", price=Decimal("1234.50"))
    client.force_login(staff_user)
    html = client.get("/admin/catalog/product/").content.decode()
    assert "€1,234.50" in html
    assert "€1,357.95" in html
