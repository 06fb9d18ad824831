from decimal import Decimal

import pytest

from catalog import services
from catalog.models import Order, OrderItem, Product
from catalog.services import OrderLine, order_cancel, order_create, order_mark_paid
from tests.catalog.factories import make_order, make_product

pytestmark = pytest.mark.django_db


def stock_of(*products):
    return [Product.objects.get(pk=p.pk).stock for p in products]


@pytest.fixture
def tax(settings):
    settings.TAX_RATE = Decimal("0.10")
    return settings.TAX_RATE


def test_order_is_priced_by_the_server_and_takes_stock(user, tax):
    mug = make_product(price=Decimal("8.25"), stock=10)
    lamp = make_product(price=Decimal("45.00"), stock=3)
    order, created = order_create(user=user, items=[OrderLine(lamp.pk, 1), OrderLine(mug.pk, 3)])
    assert created
    assert order.user == user
    assert order.status == Order.Status.PENDING
    items = {item.product_id: item for item in order.items.all()}
    assert (items[mug.pk].quantity, items[mug.pk].unit_price) == (3, Decimal("8.25"))
    assert (items[lamp.pk].quantity, items[lamp.pk].unit_price) == (1, Decimal("45.00"))
    assert order.subtotal == Decimal("69.75")
    assert order.tax == Decimal("6.98")  # 6.975 rounds half up
    assert order.total == Decimal("76.73")
    assert order.tax_rate == tax
    assert stock_of(mug, lamp) == [7, 2]


def test_an_order_keeps_its_prices_when_the_product_price_changes(user, tax):
    product = make_product(price=Decimal("10.00"))
    order, _ = order_create(user=user, items=[OrderLine(product.pk, 2)])
    Product.objects.filter(pk=product.pk).update(price=Decimal("99.00"))
    order.refresh_from_db()
    assert order.items.get().unit_price == Decimal("10.00")
    assert order.total == Decimal("22.00")


def test_the_whole_stock_can_be_ordered(user, tax):
    product = make_product(stock=4)
    order_create(user=user, items=[OrderLine(product.pk, 4)])
    assert stock_of(product) == [0]


def test_not_enough_stock_names_the_product_and_writes_nothing(user, tax):
    plenty = make_product(stock=50)
    scarce = make_product(stock=2)
    assert plenty.pk < scarce.pk  # the plentiful one is taken first, then rolled back
    with pytest.raises(services.InsufficientStock) as caught:
        order_create(user=user, items=[OrderLine(plenty.pk, 5), OrderLine(scarce.pk, 3)])
    assert (caught.value.product_id, caught.value.requested, caught.value.available) == (
        scarce.pk,
        3,
        2,
    )
    assert "2 left" in caught.value.message
    assert stock_of(plenty, scarce) == [50, 2]
    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()


def test_unknown_and_inactive_products_are_refused_by_id(user, tax):
    good = make_product(stock=5)
    hidden = make_product(stock=5, is_active=False)
    missing_id = hidden.pk + 1000
    with pytest.raises(services.ProductsUnavailable) as caught:
        order_create(
            user=user,
            items=[OrderLine(good.pk, 1), OrderLine(hidden.pk, 1), OrderLine(missing_id, 1)],
        )
    assert caught.value.product_ids == [hidden.pk, missing_id]
    assert stock_of(good, hidden) == [5, 5]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one item"),
        ([(1, 0)], "between 1 and 1000"),
        ([(1, -2)], "between 1 and 1000"),
        ([(1, 1001)], "between 1 and 1000"),
        ([(1, 1), (1, 2)], "only once"),
        ([(n, 1) for n in range(1, 102)], "at most 100"),
    ],
)
def test_malformed_item_lists_are_refused(user, tax, items, message):
    make_product(stock=5)
    with pytest.raises(services.InvalidOrder, match=message):
        order_create(user=user, items=items)
    assert not Order.objects.exists()


def test_a_repeated_idempotency_key_returns_the_first_order(user, tax):
    product = make_product(stock=10)
    first, created = order_create(
        user=user, items=[OrderLine(product.pk, 2)], idempotency_key="checkout-1"
    )
    again, created_again = order_create(
        user=user, items=[OrderLine(product.pk, 2)], idempotency_key="checkout-1"
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Order.objects.count() == 1
    assert stock_of(product) == [8]


def test_a_key_reused_for_other_items_is_refused(user, tax):
    product = make_product(stock=10)
    order_create(user=user, items=[OrderLine(product.pk, 2)], idempotency_key="k")
    with pytest.raises(services.IdempotencyKeyReused):
        order_create(user=user, items=[OrderLine(product.pk, 3)], idempotency_key="k")
    assert Order.objects.count() == 1
    assert stock_of(product) == [8]


def test_idempotency_keys_belong_to_one_user(user, other_user, tax):
    product = make_product(stock=10)
    mine, _ = order_create(user=user, items=[OrderLine(product.pk, 1)], idempotency_key="k")
    theirs, created = order_create(
        user=other_user, items=[OrderLine(product.pk, 1)], idempotency_key="k"
    )
    assert created
    assert theirs.pk != mine.pk
    assert stock_of(product) == [8]


def test_a_concurrent_duplicate_key_returns_the_order_that_won(user, tax, monkeypatch):
    """Two requests with one key both find no order, then both insert: the
    unique constraint stops the second, whose stock is rolled back, and it
    returns the first order."""
    product = make_product(stock=10)
    winner = make_order(user=user, items=[(product, 2)], idempotency_key="race")
    real_lookup = services._order_for_key
    lookups = []

    def lookup_missing_the_winner_once(**kwargs):
        lookups.append(kwargs)
        return None if len(lookups) == 1 else real_lookup(**kwargs)

    monkeypatch.setattr(services, "_order_for_key", lookup_missing_the_winner_once)
    order, created = order_create(
        user=user, items=[OrderLine(product.pk, 2)], idempotency_key="race"
    )
    assert not created
    assert order.pk == winner.pk
    assert len(lookups) == 2
    assert Order.objects.count() == 1
    assert stock_of(product) == [10]  # make_order took none; the loser's take was rolled back


def test_an_overlong_idempotency_key_is_refused(user, tax):
    product = make_product()
    with pytest.raises(services.InvalidOrder, match="Idempotency-Key"):
        order_create(user=user, items=[OrderLine(product.pk, 1)], idempotency_key="x" * 256)


def test_cancelling_restores_stock_once(user, tax):
    a = make_product(stock=5)
    b = make_product(stock=5)
    order, _ = order_create(user=user, items=[OrderLine(a.pk, 2), OrderLine(b.pk, 5)])
    assert stock_of(a, b) == [3, 0]
    cancelled = order_cancel(order=order)
    assert cancelled.status == Order.Status.CANCELLED
    assert stock_of(a, b) == [5, 5]
    with pytest.raises(services.OrderNotPending, match="cancelled"):
        order_cancel(order=order)
    assert stock_of(a, b) == [5, 5]


def test_paid_orders_cannot_be_cancelled(user, tax):
    product = make_product(stock=5)
    order, _ = order_create(user=user, items=[OrderLine(product.pk, 2)])
    assert order_mark_paid(order=order).status == Order.Status.PAID
    with pytest.raises(services.OrderNotPending, match="paid"):
        order_cancel(order=order)
    assert stock_of(product) == [3]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_only_pending_orders_can_be_marked_paid(user, tax):
    product = make_product(stock=5)
    order, _ = order_create(user=user, items=[OrderLine(product.pk, 1)])
    order_cancel(order=order)
    with pytest.raises(services.OrderNotPending):
        order_mark_paid(order=order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
