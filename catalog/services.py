"""Writes of the catalog: placing, cancelling and paying orders.

Each service is one transaction and is synchronous; async handlers call them
through ``sync_to_async`` (transactions do not work in async code).

How stock stays right under races, in every process at once: stock is taken
with a conditional ``UPDATE … SET stock = stock - q WHERE id = … AND stock >=
q``. The database evaluates the condition on the latest committed row while
holding its row lock, so two orders can never both take the last unit; when
the update matches no row the order is refused and the transaction rolls back.
Products are updated in ascending id order, so two orders for overlapping
products lock rows in the same order and cannot deadlock. The
``stock >= 0`` check constraint is the last line of defence if code is wrong.
"""

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog import emails
from catalog.models import Order, OrderItem, OrderStatus, Product
from catalog.pricing import order_totals, tax_rate

logger = logging.getLogger(__name__)

MAX_ORDER_LINES = 100
MAX_LINE_QUANTITY = 1000
MAX_IDEMPOTENCY_KEY_LENGTH = 255


class OrderLine(NamedTuple):
    product_id: int
    quantity: int


class OrderError(Exception):
    """Base of the errors a caller can show to the person placing the order."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class InvalidOrder(OrderError):
    """The request itself is wrong (empty, bad quantities, duplicates)."""


class ProductsUnavailable(OrderError):
    """Some products do not exist or are not for sale."""

    def __init__(self, product_ids: Iterable[int]):
        self.product_ids = sorted(product_ids)
        listed = ", ".join(str(pk) for pk in self.product_ids)
        super().__init__(f"Unknown or inactive products: {listed}.")


class InsufficientStock(OrderError):
    def __init__(self, *, product_id: int, requested: int, available: int):
        self.product_id = product_id
        self.requested = requested
        self.available = available
        super().__init__(
            f"Not enough stock for product {product_id}: {requested} requested, {available} left."
        )


class IdempotencyKeyReused(OrderError):
    """The key already placed an order with different items."""


class OrderNotPending(OrderError):
    def __init__(self, order: Order, action: str):
        self.order = order
        super().__init__(
            f"Only pending orders can be {action}; order {order.pk} is {order.status}."
        )


def _validate_lines(items: Iterable[OrderLine]) -> list[OrderLine]:
    lines = [OrderLine(int(product_id), int(quantity)) for product_id, quantity in items]
    if not lines:
        raise InvalidOrder("An order needs at least one item.")
    if len(lines) > MAX_ORDER_LINES:
        raise InvalidOrder(f"An order has at most {MAX_ORDER_LINES} items.")
    for line in lines:
        if not 0 < line.quantity <= MAX_LINE_QUANTITY:
            raise InvalidOrder(
                f"Quantities are between 1 and {MAX_LINE_QUANTITY} "
                f"(product {line.product_id}: {line.quantity})."
            )
    product_ids = [line.product_id for line in lines]
    if len(set(product_ids)) != len(product_ids):
        raise InvalidOrder("Each product may appear only once; add up its quantities.")
    return lines


def _order_for_key(*, user: User, idempotency_key: str, lines: list[OrderLine]) -> Order | None:
    """The order ``user`` already placed with ``idempotency_key``, if any.
    Raises ``IdempotencyKeyReused`` when it was placed with other items."""
    order = Order.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if order is None:
        return None
    placed = {item.product_id: item.quantity for item in order.items.all()}
    if placed != {line.product_id: line.quantity for line in lines}:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for an order with different items; "
            "use a new key for a new order."
        )
    return order


def _take_stock(line: OrderLine) -> None:
    taken = Product.objects.filter(
        pk=line.product_id, is_active=True, stock__gte=line.quantity
    ).update(stock=F("stock") - line.quantity)
    if taken:
        return
    product = Product.objects.filter(pk=line.product_id).values("is_active", "stock").first()
    if product is None or not product["is_active"]:
        # Deactivated (or deleted) between validation and this transaction.
        raise ProductsUnavailable([line.product_id])
    raise InsufficientStock(
        product_id=line.product_id, requested=line.quantity, available=product["stock"]
    )


@transaction.atomic
def _order_place(*, user: User, lines: list[OrderLine], idempotency_key: str | None) -> Order:
    rate = tax_rate()
    # The order row is written first: with a key, a concurrent duplicate
    # blocks on the unique index here and fails once this one commits. (On
    # SQLite, starting with a write also lets the busy timeout apply.)
    order = Order.objects.create(user=user, tax_rate=rate, idempotency_key=idempotency_key)
    lines = sorted(lines, key=lambda line: line.product_id)
    for line in lines:
        _take_stock(line)
    # Read after the rows are locked by our updates: these are the prices in
    # force at the moment the stock was taken.
    prices = dict(
        Product.objects.filter(pk__in=[line.product_id for line in lines]).values_list(
            "pk", "price"
        )
    )
    items = [
        OrderItem(
            order=order,
            product_id=line.product_id,
            quantity=line.quantity,
            unit_price=prices[line.product_id],
        )
        for line in lines
    ]
    OrderItem.objects.bulk_create(items)
    order.subtotal = sum((item.line_total for item in items), Decimal("0"))
    order.tax, order.total = order_totals(order.subtotal, rate)
    order.save(update_fields=["subtotal", "tax", "total", "updated"])
    # Only once the order is committed: a rolled-back order never mails
    # anyone. robust: a mail server that is down is logged, and the order
    # (already committed) still answers as placed.
    order_id = order.pk

    def send_confirmation() -> None:
        emails.order_confirmation_send(order_id=order_id)

    transaction.on_commit(send_confirmation, robust=True)
    return order


def order_create(
    *, user: User, items: Iterable[OrderLine], idempotency_key: str | None = None
) -> tuple[Order, bool]:
    """Place an order for ``user`` at the current prices and take its stock.

    Returns ``(order, created)`` like ``get_or_create``: ``created`` is False
    when ``idempotency_key`` had already placed an order for this user, which
    is returned unchanged (nothing is charged or taken twice). Raises
    ``InvalidOrder``, ``ProductsUnavailable``, ``InsufficientStock`` or
    ``IdempotencyKeyReused``; when it raises, nothing was written.
    """
    lines = _validate_lines(items)
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
            raise InvalidOrder(
                f"An Idempotency-Key has 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters."
            )
        existing = _order_for_key(user=user, idempotency_key=idempotency_key, lines=lines)
        if existing is not None:
            return existing, False

    product_ids = [line.product_id for line in lines]
    available = set(
        Product.objects.active().filter(pk__in=product_ids).values_list("pk", flat=True)
    )
    missing = set(product_ids) - available
    if missing:
        raise ProductsUnavailable(missing)

    try:
        order = _order_place(user=user, lines=lines, idempotency_key=idempotency_key)
    except IntegrityError:
        # Only a concurrent request with the same key explains this; anything
        # else is a bug and must surface.
        if idempotency_key is None:
            raise
        existing = _order_for_key(user=user, idempotency_key=idempotency_key, lines=lines)
        if existing is None:
            raise
        logger.info("Order %s replayed for a concurrent duplicate request", existing.pk)
        return existing, False
    return order, True


def _order_leave_pending(*, order: Order, status: OrderStatus, action: str) -> None:
    """Move ``order`` from pending to ``status`` with a conditional update
    (``WHERE status = 'pending'``): of two calls racing each other only one
    changes the row; the other, like a call on an order that is not pending,
    raises ``OrderNotPending`` saying the order cannot be ``action``."""
    changed = Order.objects.filter(pk=order.pk, status=Order.Status.PENDING).update(
        status=status, updated=timezone.now()
    )
    if not changed:
        order.refresh_from_db(fields=["status"])
        raise OrderNotPending(order, action)


@transaction.atomic
def order_cancel(*, order: Order) -> Order:
    """Cancel a pending order and put its items back in stock, atomically.

    The status change is conditional (``WHERE status = 'pending'``), so two
    cancellations racing each other restore the stock once. Raises
    ``OrderNotPending`` for paid or already cancelled orders.
    """
    _order_leave_pending(order=order, status=Order.Status.CANCELLED, action="cancelled")
    # Same lock order as order_create: ascending product id.
    for product_id, quantity in (
        OrderItem.objects.filter(order=order)
        .order_by("product_id")
        .values_list("product_id", "quantity")
    ):
        Product.objects.filter(pk=product_id).update(stock=F("stock") + quantity)
    order.refresh_from_db()
    return order


@transaction.atomic
def order_mark_paid(*, order: Order) -> Order:
    """Record payment of a pending order (staff, from the admin)."""
    _order_leave_pending(order=order, status=Order.Status.PAID, action="marked paid")
    order.refresh_from_db()
    return order
