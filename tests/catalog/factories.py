"""Plain factory functions for catalog rows: defaults that make a valid row,
overridable by keyword."""

import itertools
from decimal import Decimal

from catalog.models import Category, Order, OrderItem, Product

_sequence = itertools.count(1)


def make_category(**fields) -> Category:
    n = next(_sequence)
    fields.setdefault("name", f"Category {n}")
    fields.setdefault("slug", f"category-{n}")
    return Category.objects.create(**fields)


def make_product(**fields) -> Product:
    n = next(_sequence)
    if "category" not in fields:
        fields["category"] = make_category()
    fields.setdefault("name", f"Product {n}")
    fields.setdefault("slug", f"product-{n}")
    fields.setdefault("price", Decimal("10.00"))
    fields.setdefault("stock", 10)
    return Product.objects.create(**fields)


def make_order(*, user, items=(), status=Order.Status.PENDING, **fields) -> Order:
    """An order row written directly (not through the service: stock is not
    touched). ``items`` are ``(product, quantity)`` pairs priced at the
    product's price."""
    fields.setdefault("tax_rate", Decimal("0.10"))
    order = Order.objects.create(user=user, status=status, **fields)
    subtotal = Decimal("0")
    for product, quantity in items:
        OrderItem.objects.create(
            order=order, product=product, quantity=quantity, unit_price=product.price
        )
        subtotal += product.price * quantity
    order.subtotal = subtotal
    order.tax = (subtotal * order.tax_rate).quantize(Decimal("0.01"))
    order.total = order.subtotal + order.tax
    order.save()
    return order
