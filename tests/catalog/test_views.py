from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.views import PRODUCTS_PER_PAGE
from tests.catalog.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def tax(settings):
    settings.TAX_RATE = Decimal("0.10")


# The product list.


def test_product_list_shows_active_products_with_category_and_tax(client):
    kitchen = make_category(name="Kitchen", slug="kitchen")
    make_product(name="Enamel Mug", price=Decimal("0.95"), stock=4, category=kitchen)
    make_product(name="Sold Out Teapot", price=Decimal("20.00"), stock=0, category=kitchen)
    make_product(name="Withdrawn Kettle", is_active=False, category=kitchen)
    big = make_product(name="Banquet Table", price=Decimal("1234.50"), stock=9, category=kitchen)
    response = client.get("/products/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enamel Mug" in html
    assert "Kitchen" in html
    assert "$0.95" in html
    assert "$1.05" in html  # 1.045 rounded half up, not the float 1.04
    assert "Only 4 left" in html
    assert "Sold out" in html
    assert "Withdrawn Kettle" not in html
    assert "3 products" in html
    # Each row links to the product's own page; prices carry the currency
    # symbol and thousands separators.
    assert f'<a href="{big.get_absolute_url()}">Banquet Table</a>' in html
    assert "$1,234.50" in html and "$1,357.95" in html


def test_product_list_escapes_names_it_did_not_write(client):
    odd = make_category(name="Tools & <b>Hardware</b>", slug="tools")
    make_product(name='<script>alert("x")</script> Saw', slug="saw", category=odd)
    html = client.get("/products/").content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Saw" in html
    assert 'href="/products/?category=tools">Tools &amp; &lt;b&gt;Hardware&lt;/b&gt;</a>' in html
    assert '<span class="badge badge-stock-in">In stock</span>' in html


def test_product_list_query_count_does_not_grow_with_rows(client):
    def queries_for_page():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/products/").status_code == 200
        return len(captured)

    category = make_category()
    make_product(category=category)
    few = queries_for_page()
    for n in range(PRODUCTS_PER_PAGE + 5):
        make_product(category=make_category() if n % 2 else category)
    assert queries_for_page() == few


def test_category_filter_and_pagination_links_keep_the_filter(client):
    books = make_category(name="Books", slug="books")
    other = make_category(name="Garden", slug="garden")
    for n in range(PRODUCTS_PER_PAGE + 3):
        make_product(name=f"Book {n:02}", category=books)
    make_product(name="Spade", category=other)
    first = client.get("/products/?category=books")
    html = first.content.decode()
    assert "Spade" not in html
    assert "Book 00" in html and f"Book {PRODUCTS_PER_PAGE:02}" not in html
    assert "?category=books&amp;page=2" in html
    second = client.get("/products/?category=books&page=2").content.decode()
    assert f"Book {PRODUCTS_PER_PAGE:02}" in second
    assert "Book 00" not in second
    assert "Page 2 of 2" in second


def test_unknown_category_is_an_empty_list_as_in_the_api(client):
    # One rule for pages and API: an unknown filter value matches nothing.
    make_product(name="Copper Kettle")
    response = client.get("/products/?category=no-such-thing")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No products match." in html
    assert "Copper Kettle" not in html
    assert "Copper Kettle" in client.get("/products/").content.decode()


def test_search_on_the_product_list(client):
    category = make_category()
    make_product(name="Copper Kettle", category=category)
    make_product(name="Oak Chair", category=category)
    html = client.get("/products/?q=kettle").content.decode()
    assert "Copper Kettle" in html
    assert "Oak Chair" not in html


def test_out_of_range_page_shows_the_last_page(client):
    make_product(name="Only One")
    response = client.get("/products/?page=99")
    assert response.status_code == 200
    assert "Only One" in response.content.decode()


def test_product_detail_page(client):
    product = make_product(name="Desk Lamp", slug="desk-lamp", price=Decimal("45.00"))
    html = client.get("/products/desk-lamp/").content.decode()
    assert "Desk Lamp" in html
    assert "49.50" in html
    make_product(slug="retired", is_active=False)
    assert client.get("/products/retired/").status_code == 404
    assert product.get_absolute_url() == "/products/desk-lamp/"


# Logging in and the profile page.


def test_login_and_logout_pages(client, user):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"
    assert client.get("/accounts/profile/").status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 302


def test_profile_needs_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/accounts/profile/")


def test_profile_shows_own_details_and_only_own_orders(client, user, other_user):
    product = make_product()
    mine = make_order(user=user, items=[(product, 2)])
    theirs = make_order(user=other_user, items=[(product, 1)])
    client.login(username="alice", password=PASSWORD)
    response = client.get("/accounts/profile/")
    html = response.content.decode()
    assert "alice" in html
    assert "alice@example.com" in html
    user.refresh_from_db()
    assert user.last_login is not None
    assert user.last_login.isoformat() in html
    assert f"#{mine.pk}<" in html
    assert f"#{theirs.pk}<" not in html
    assert "bob@example.com" not in html
    assert "no-cache" in response["Cache-Control"]


def test_profile_without_orders(client, user):
    client.login(username="alice", password=PASSWORD)
    assert "No orders yet" in client.get("/accounts/profile/").content.decode()


def test_another_users_profile_is_404_for_non_staff(client, user, other_user):
    make_order(user=other_user, items=[(make_product(), 1)])
    client.login(username="alice", password=PASSWORD)
    response = client.get("/accounts/profile/bob/")
    assert response.status_code == 404
    assert "bob@example.com" not in response.content.decode()
    # Indistinguishable from a user who does not exist.
    assert client.get("/accounts/profile/nobody/").status_code == 404
    # One's own username works.
    assert client.get("/accounts/profile/alice/").status_code == 200


def test_staff_may_open_another_users_profile(client, staff_user, other_user):
    order = make_order(user=other_user, items=[(make_product(), 1)])
    client.login(username="staff", password=PASSWORD)
    response = client.get("/accounts/profile/bob/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Profile of bob" in html
    assert "bob@example.com" in html
    assert f"#{order.pk}<" in html
    assert client.get("/accounts/profile/nobody/").status_code == 404
