from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Order, Product
from catalog.services import OrderLine, order_create
from conftest import grant
from tests.catalog.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db

PRODUCTS = "/admin/catalog/product/"
ORDERS = "/admin/catalog/order/"
CATEGORIES = "/admin/catalog/category/"


@pytest.fixture(autouse=True)
def tax(settings):
    settings.TAX_RATE = Decimal("0.10")


def make_user():
    User = get_user_model()
    n = User.objects.count()
    return User.objects.create_user(username=f"customer{n}", email=f"c{n}@example.com")


def query_count(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("url", "add_rows"),
    [
        (PRODUCTS, lambda: make_product(category=make_category())),
        (ORDERS, lambda: make_order(user=make_user(), items=[(make_product(), 2)])),
        (CATEGORIES, lambda: make_product(category=make_category())),
    ],
)
def test_list_pages_run_a_fixed_number_of_queries(admin_client, url, add_rows):
    add_rows()
    one_row = query_count(admin_client, url)
    for _ in range(8):
        add_rows()
    assert query_count(admin_client, url) == one_row


def test_product_list_shows_price_with_tax_and_filters(admin_client):
    garden = make_category(name="Garden", slug="garden")
    make_product(name="Spade", price=Decimal("0.95"), category=garden)
    make_product(name="Rake", is_active=False, category=garden)
    html = admin_client.get(PRODUCTS).content.decode()
    assert "Spade" in html and "1.05" in html
    inactive = admin_client.get(PRODUCTS + "?is_active__exact=0").content.decode()
    assert "Rake" in inactive and "Spade" not in inactive
    found = admin_client.get(PRODUCTS + "?q=spa").content.decode()
    assert "Spade" in found and "Rake" not in found
    by_category = admin_client.get(PRODUCTS + f"?category__id__exact={garden.pk}")
    assert "Spade" in by_category.content.decode()


@pytest.mark.parametrize(("action", "active"), [("activate", True), ("deactivate", False)])
def test_bulk_activate_and_deactivate(admin_client, action, active):
    chosen = [make_product(is_active=not active), make_product(is_active=not active)]
    untouched = make_product(is_active=not active)
    response = admin_client.post(
        PRODUCTS, {"action": action, "_selected_action": [p.pk for p in chosen]}, follow=True
    )
    assert response.status_code == 200
    assert f"2 products {action}d" in response.content.decode()
    assert [Product.objects.get(pk=p.pk).is_active for p in chosen] == [active, active]
    assert Product.objects.get(pk=untouched.pk).is_active is not active


def test_category_slug_is_prepopulated_from_the_name(admin_client):
    html = admin_client.get(CATEGORIES + "add/").content.decode()
    assert "prepopulated" in html
    assert "#id_slug" in html and "#id_name" in html


def test_order_page_shows_items_inline_and_totals_read_only(admin_client, user):
    product = make_product(name="Copper Kettle", price=Decimal("30.00"), stock=5)
    order, _ = order_create(user=user, items=[OrderLine(product.pk, 2)])
    html = admin_client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert "Copper Kettle" in html
    assert "60.00" in html and "66.00" in html
    for field in ["total", "subtotal", "tax", "status", "user"]:
        assert f'name="{field}"' not in html
    assert 'name="items-0-quantity"' not in html


def test_orders_are_not_added_or_deleted_in_the_admin(admin_client, user):
    order = make_order(user=user, items=[(make_product(), 1)])
    assert admin_client.get(ORDERS + "add/").status_code == 403
    assert admin_client.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_order_status_filter(admin_client, user):
    pending = make_order(user=user)
    paid = make_order(user=user, status=Order.Status.PAID)
    response = admin_client.get(ORDERS + "?status__exact=paid")
    shown = [o.pk for o in response.context["cl"].result_list]
    assert shown == [paid.pk]
    assert pending.pk not in shown


def test_cancel_action_restores_stock_and_skips_non_pending(admin_client, user):
    product = make_product(stock=5)
    pending, _ = order_create(user=user, items=[OrderLine(product.pk, 3)])
    paid = make_order(user=user, status=Order.Status.PAID)
    response = admin_client.post(
        ORDERS, {"action": "cancel", "_selected_action": [pending.pk, paid.pk]}, follow=True
    )
    html = response.content.decode()
    assert "1 order cancelled" in html
    assert f"#{paid.pk}" in html
    assert Product.objects.get(pk=product.pk).stock == 5
    assert Order.objects.get(pk=pending.pk).status == "cancelled"
    assert Order.objects.get(pk=paid.pk).status == "paid"


def test_mark_paid_action(admin_client, user):
    order = make_order(user=user)
    admin_client.post(ORDERS, {"action": "mark_paid", "_selected_action": [order.pk]})
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_order_page_labels_items_by_product_and_shows_the_tax_rate_as_a_percentage(
    admin_client, user
):
    mug = make_product(name="Ceramic Mug", price=Decimal("8.25"), stock=5)
    book = make_product(name="Two Scoops of Django", price=Decimal("39.95"), stock=5)
    order, _ = order_create(user=user, items=[OrderLine(book.pk, 2), OrderLine(mug.pk, 1)])
    html = admin_client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert "2 × Two Scoops of Django" in html and "1 × Ceramic Mug" in html
    assert f"2 × {book.pk}<" not in html
    assert "10%" in html
    assert "0.1000" not in html


def test_an_order_page_has_no_save_buttons_and_a_post_changes_nothing(admin_client, user):
    order = make_order(user=user, items=[(make_product(), 1)])
    url = f"{ORDERS}{order.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert 'name="_addanother"' not in html
    updated = Order.objects.get(pk=order.pk).updated
    response = admin_client.post(url, {"status": "paid", "_save": "Save"})
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).updated == updated
    assert Order.objects.get(pk=order.pk).status == "pending"


def test_staff_with_order_permissions_see_the_items_and_may_use_the_actions(
    client, user, staff_user
):
    grant(staff_user, "catalog.view_order", "catalog.change_order")
    client.force_login(staff_user)
    product = make_product(name="Copper Kettle", stock=5)
    order, _ = order_create(user=user, items=[OrderLine(product.pk, 2)])
    html = client.get(f"{ORDERS}{order.pk}/change/").content.decode()
    assert "2 × Copper Kettle" in html
    assert 'name="_save"' not in html
    client.post(ORDERS, {"action": "cancel", "_selected_action": [order.pk]})
    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert Product.objects.get(pk=product.pk).stock == 5
