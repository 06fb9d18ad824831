"""The invariants hold in the database itself, whatever code writes."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from catalog.models import Order, OrderItem, Product
from tests.catalog.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db


def violates(callable_):
    """Run a write in a savepoint and report whether the database refused it."""
    try:
        with transaction.atomic():
            callable_()
    except IntegrityError:
        return True
    return False


def test_stock_cannot_go_negative_even_by_a_raw_update():
    product = make_product(stock=2)
    assert violates(lambda: Product.objects.filter(pk=product.pk).update(stock=F("stock") - 3))
    product.refresh_from_db()
    assert product.stock == 2


def test_stock_may_reach_zero():
    product = make_product(stock=2)
    Product.objects.filter(pk=product.pk).update(stock=F("stock") - 2)
    product.refresh_from_db()
    assert product.stock == 0


def test_price_cannot_be_negative():
    product = make_product()
    assert violates(lambda: Product.objects.filter(pk=product.pk).update(price=Decimal("-0.01")))


def test_slugs_are_unique():
    category = make_category(slug="tools")
    make_product(slug="hammer", category=category)
    assert violates(lambda: make_product(slug="hammer", category=category))
    assert violates(lambda: make_category(slug="tools"))


def test_order_item_quantity_must_be_positive(user):
    order = make_order(user=user)
    product = make_product()
    assert violates(
        lambda: OrderItem.objects.create(
            order=order, product=product, quantity=0, unit_price=Decimal("1.00")
        )
    )


def test_a_product_appears_once_per_order(user):
    product = make_product()
    order = make_order(user=user, items=[(product, 1)])
    assert violates(
        lambda: OrderItem.objects.create(
            order=order, product=product, quantity=2, unit_price=product.price
        )
    )


def test_status_must_be_a_known_one(user):
    order = make_order(user=user)
    assert violates(lambda: Order.objects.filter(pk=order.pk).update(status="shipped-to-mars"))


def test_idempotency_keys_are_unique_per_user_and_optional(user, other_user):
    make_order(user=user, idempotency_key="k1")
    assert violates(lambda: make_order(user=user, idempotency_key="k1"))
    # Another user may use the same key; orders without a key never collide.
    make_order(user=other_user, idempotency_key="k1")
    make_order(user=user)
    make_order(user=user)
    assert Order.objects.filter(user=user).count() == 3


def test_products_with_orders_cannot_be_deleted(user):
    product = make_product()
    make_order(user=user, items=[(product, 1)])
    assert violates(lambda: Product.objects.filter(pk=product.pk).delete())


def test_price_with_tax_property(settings):
    settings.TAX_RATE = Decimal("0.10")
    product = make_product(price=Decimal("0.95"))
    assert product.price_with_tax == Decimal("1.05")
