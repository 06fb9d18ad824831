"""The shop on the pages: the cart in the session, checkout through the
order service, the order pages and cancelling."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from catalog.models import Order, Product
from tests.catalog.factories import make_order, make_product

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def shop_settings(settings):
    settings.TAX_RATE = Decimal("0.10")
    settings.CURRENCY_CODE = "USD"
    settings.CURRENCY_SYMBOL = "$"


@pytest.fixture
def mug():
    return make_product(name="Ceramic Mug", price=Decimal("12.50"), stock=5)


@pytest.fixture
def lamp():
    return make_product(name="Desk Lamp", price=Decimal("1045.00"), stock=3)


def add(client, product, quantity=1, **extra):
    return client.post("/cart/add/", {"product": product.pk, "quantity": quantity, **extra})


def checkout_token(client) -> str:
    response = client.get("/checkout/")
    assert response.status_code == 200
    return re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)


# The cart.


def test_add_from_the_product_page_and_see_totals_with_tax(client, mug, lamp):
    response = add(client, mug, 2, next=mug.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == mug.get_absolute_url()
    add(client, lamp, 1)
    page = client.get("/cart/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ceramic Mug" in html and "Desk Lamp" in html
    # 2 × 12.50 + 1,045.00 = 1,070.00 net; tax 107.00; total 1,177.00.
    assert "$1,070.00" in html
    assert "$107.00" in html
    assert "$1,177.00" in html
    assert "USD" in html
    assert '<span class="cart-count">3' in html  # the header counts units
    assert "Check out" in html


def test_add_from_the_list_uses_the_rows_quantity_field(client, mug):
    list_html = client.get("/products/").content.decode()
    assert f'name="quantity-{mug.pk}"' in list_html
    assert f'form="cart-add" type="submit" name="product" value="{mug.pk}"' in list_html
    response = client.post(
        "/cart/add/", {"product": mug.pk, f"quantity-{mug.pk}": "3", "next": "/products/"}
    )
    assert response["Location"] == "/products/"
    assert client.session["cart"] == {str(mug.pk): 3}


def test_adding_more_than_the_stock_says_how_many_are_left(client, mug):
    add(client, mug, 4)
    response = add(client, mug, 2)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Only 5 of Ceramic Mug left, and your cart already has 4." in html
    assert client.session["cart"] == {str(mug.pk): 4}


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "1001", ""])
def test_a_bad_quantity_is_a_400_with_the_reason(client, mug, quantity):
    response = add(client, mug, quantity)
    assert response.status_code == 400
    assert "Quantity:" in response.content.decode()
    assert "cart" not in client.session


def test_an_inactive_or_unknown_product_cannot_be_added(client):
    withdrawn = make_product(is_active=False)
    assert add(client, withdrawn).status_code == 400
    response = client.post("/cart/add/", {"product": 999999, "quantity": 1})
    assert response.status_code == 400
    assert "This product is not for sale." in response.content.decode()


def test_an_offsite_next_is_ignored(client, mug):
    response = add(client, mug, 1, next="https://evil.example/")
    assert response["Location"] == "/cart/"


def test_change_quantities_and_remove_lines(client, mug, lamp):
    add(client, mug, 1)
    add(client, lamp, 1)
    client.post("/cart/", {f"quantity-{mug.pk}": "3", f"quantity-{lamp.pk}": "1"})
    assert client.session["cart"] == {str(mug.pk): 3, str(lamp.pk): 1}
    client.post("/cart/", {"remove": str(lamp.pk)})
    assert client.session["cart"] == {str(mug.pk): 3}
    client.post("/cart/", {f"quantity-{mug.pk}": "0"})
    assert client.session["cart"] == {}
    assert "Your cart is empty." in client.get("/cart/").content.decode()


def test_the_cart_flags_stock_shortfalls_and_withdrawn_products(client, mug, lamp):
    add(client, mug, 5)
    add(client, lamp, 1)
    Product.objects.filter(pk=mug.pk).update(stock=2)
    Product.objects.filter(pk=lamp.pk).update(is_active=False)
    html = client.get("/cart/").content.decode()
    assert "Only 2 left: lower the quantity to check out." in html
    assert "No longer for sale: remove it to check out." in html
    assert "2 lines cannot be ordered as it stands" in html
    assert 'href="/checkout/"' not in html.split("</header>", 1)[1]


def test_a_deleted_product_drops_out_of_the_cart(client, mug):
    add(client, mug, 1)
    mug.delete()
    assert "Your cart is empty." in client.get("/cart/").content.decode()


def test_pages_without_a_session_cookie_open_no_session(client, mug):
    response = client.get("/products/")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


# Checkout.


def test_checkout_needs_a_login_and_the_cart_survives_it(client, user, mug):
    add(client, mug, 2)
    response = client.get("/checkout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/checkout/"
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/checkout/"}
    )
    assert response["Location"] == "/checkout/"
    html = client.get("/checkout/").content.decode()
    assert "Ceramic Mug" in html and "$27.50" in html  # 25.00 + 2.50 tax
    assert "Place order" in html


def test_place_order_uses_the_service_redirects_and_empties_the_cart(client, user, mug, lamp):
    client.force_login(user)
    add(client, mug, 2)
    add(client, lamp, 1)
    response = client.post("/checkout/", {"token": checkout_token(client)})
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/orders/{order.pk}/"
    assert order.user == user and order.status == Order.Status.PENDING
    assert order.subtotal == Decimal("1070.00")
    assert order.tax == Decimal("107.00")
    assert order.total == Decimal("1177.00")
    assert {(i.product_id, i.quantity) for i in order.items.all()} == {(mug.pk, 2), (lamp.pk, 1)}
    mug.refresh_from_db()
    lamp.refresh_from_db()
    assert (mug.stock, lamp.stock) == (3, 2)
    assert not client.session.get("cart")
    page = client.get(response["Location"])
    html = page.content.decode()
    assert f"order #{order.pk} is placed" in html
    assert "$1,177.00" in html and "Cancel this order" in html


def test_a_double_submit_or_reload_places_one_order(client, user, mug):
    client.force_login(user)
    add(client, mug, 2)
    token = checkout_token(client)
    first = client.post("/checkout/", {"token": token})
    second = client.post("/checkout/", {"token": token})  # the reload, cart now empty
    assert Order.objects.count() == 1
    assert first["Location"] == second["Location"] == Order.objects.get().get_absolute_url()
    mug.refresh_from_db()
    assert mug.stock == 3


def test_a_cart_changed_since_the_review_is_reviewed_again(client, user, mug, lamp):
    client.force_login(user)
    add(client, mug, 1)
    token = checkout_token(client)
    add(client, lamp, 1)  # in another tab
    response = client.post("/checkout/", {"token": token})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Your cart changed since this page was opened" in html
    assert "Desk Lamp" in html
    assert not Order.objects.exists()
    fresh = re.search(r'name="token" value="([^"]+)"', html).group(1)
    assert client.post("/checkout/", {"token": fresh}).status_code == 302
    assert Order.objects.get().items.count() == 2


def test_a_token_not_issued_to_this_session_places_nothing(client, user, mug):
    client.force_login(user)
    add(client, mug, 1)
    response = client.post("/checkout/", {"token": "made-up"})
    assert response.status_code == 400
    assert "This checkout page has expired" in response.content.decode()
    assert not Order.objects.exists()


def test_not_enough_stock_names_the_line_and_places_nothing(client, user, mug, lamp):
    client.force_login(user)
    add(client, mug, 1)
    add(client, lamp, 3)
    token = checkout_token(client)
    Product.objects.filter(pk=lamp.pk).update(stock=1)  # sold meanwhile
    response = client.post("/checkout/", {"token": token})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Not enough Desk Lamp in stock: you asked for 3 and 1 is left." in html
    assert "Nothing was ordered." in html
    assert not Order.objects.exists()
    mug.refresh_from_db()
    assert mug.stock == 5
    assert client.session["cart"] == {str(mug.pk): 1, str(lamp.pk): 3}


def test_a_product_withdrawn_during_checkout_is_named(client, user, mug):
    client.force_login(user)
    add(client, mug, 1)
    token = checkout_token(client)
    Product.objects.filter(pk=mug.pk).update(is_active=False)
    response = client.post("/checkout/", {"token": token})
    assert response.status_code == 409
    assert "No longer for sale: Ceramic Mug." in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client, user, mug):
    client.force_login(user)
    assert client.get("/checkout/")["Location"] == "/cart/"
    add(client, mug, 1)
    token = checkout_token(client)
    client.post("/cart/", {"remove": str(mug.pk)})  # emptied in another tab
    response = client.post("/checkout/", {"token": token})
    assert response["Location"] == "/cart/"
    assert not Order.objects.exists()


def test_checkout_refuses_a_post_without_csrf_token(user, mug):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    add(client, mug, 1)  # also refused: no CSRF token
    session = client.session
    session["cart"] = {str(mug.pk): 1}
    session["checkout_tokens"] = {"t0ken": {str(mug.pk): 1}}
    session.save()
    response = client.post("/checkout/", {"token": "t0ken"})
    assert response.status_code == 403
    assert not Order.objects.exists()


# Orders.


def test_order_list_shows_own_orders_paginated_with_money_and_time_zone(client, user, other_user):
    mug = make_product(price=Decimal("1000.00"))
    for _ in range(21):
        make_order(user=user, items=[(mug, 1)])
    make_order(user=other_user, items=[(mug, 2)])
    client.force_login(user)
    html = client.get("/accounts/orders/").content.decode()
    assert "21 orders" in html
    assert "$1,100.00" in html  # 1,000.00 + 10% tax
    assert "$2,200.00" not in html
    assert " UTC</time>" in html
    assert "?page=2" in html
    assert client.get("/accounts/orders/?page=2").status_code == 200


def test_another_users_order_is_a_404_but_staff_see_it(client, user, other_user, staff_user):
    order = make_order(user=other_user, items=[(make_product(), 1)])
    client.force_login(user)
    assert client.get(f"/accounts/orders/{order.pk}/").status_code == 404
    assert client.post(f"/accounts/orders/{order.pk}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    client.force_login(staff_user)
    page = client.get(f"/accounts/orders/{order.pk}/")
    assert page.status_code == 200
    assert "bob" in page.content.decode()
    # Staff without the change permission may look, not cancel (as in the API).
    assert "Cancel this order" not in page.content.decode()
    assert client.post(f"/accounts/orders/{order.pk}/cancel/").status_code == 403


def test_orders_need_a_login(client):
    assert client.get("/accounts/orders/")["Location"].startswith("/accounts/login/")


def test_cancel_a_pending_order_restores_stock(client, user, mug):
    client.force_login(user)
    add(client, mug, 2)
    client.post("/checkout/", {"token": checkout_token(client)})
    order = Order.objects.get()
    response = client.post(f"/accounts/orders/{order.pk}/cancel/")
    assert response["Location"] == order.get_absolute_url()
    order.refresh_from_db()
    mug.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert mug.stock == 5
    html = client.get(order.get_absolute_url()).content.decode()
    assert "its items are back in stock" in html
    assert "Cancel this order" not in html
    # Cancelling again changes nothing and says why.
    client.post(f"/accounts/orders/{order.pk}/cancel/")
    mug.refresh_from_db()
    assert mug.stock == 5
    html = client.get(order.get_absolute_url()).content.decode()
    assert "Only pending orders can be cancelled" in html


def test_cancel_is_post_only(client, user):
    order = make_order(user=user, items=[(make_product(), 1)])
    client.force_login(user)
    assert client.get(f"/accounts/orders/{order.pk}/cancel/").status_code == 405
