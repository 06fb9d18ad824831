"""Buying on the site, in Chromium against uvicorn: the cart, checkout,
the order page and cancelling; a double click on "Place order"; sign up,
an API token and the API called with it; axe-core on every new page.

Stock is read from the database the server writes to (the test database),
so "stock restored" is checked where it lives."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium_path fixture skips the tests (fails them in CI)
    expect = None

from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, log_in, screenshot
from tests.e2e.test_accessibility import Audit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shopper(products, django_user_model):
    return django_user_model.objects.create_user(
        username="erin", email="erin@example.com", password=PASSWORD
    )


def _read(query):
    """Run an ORM read outside Playwright's event loop (its sync API keeps
    one running in this thread, where Django refuses sync queries)."""
    from django.db import connection

    def run():
        try:
            return query()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def stock(name: str) -> int:
    from catalog.models import Product

    return _read(lambda: Product.objects.get(name=name).stock)


def orders():
    from catalog.models import Order

    return _read(lambda: list(Order.objects.all()))


def fill_cart(page, *, phone=False):
    """Two products: two mugs from the list, a lamp from its own page. On a
    phone the list has no quantity field (one per click)."""
    page.goto("/products/")
    add_mug = page.get_by_role("button", name="Add Ceramic Mug to cart")
    if phone:
        for count in (1, 2):
            add_mug.click()
            expect(page.get_by_role("status")).to_contain_text("Added 1 × Ceramic Mug")
            nav = page.get_by_role("navigation", name="Main")
            expect(nav.get_by_role("link", name=f"Cart {count} item")).to_be_visible()
    else:
        page.get_by_label("Quantity of Ceramic Mug").fill("2")
        add_mug.click()
        expect(page.get_by_role("status")).to_contain_text("Added 2 × Ceramic Mug to your cart.")
    expect(page).to_have_url(re.compile(r"/products/$"))
    page.get_by_role("link", name="Desk Lamp").click()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status")).to_contain_text("Added 1 × Desk Lamp to your cart.")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"^Cart 3 items$"))).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_browse_add_sign_in_check_out_see_and_cancel(shopper, open_page, viewport):
    page = open_page(viewport=viewport)
    size = "phone" if viewport is PHONE else "desktop"
    mugs, lamps = stock("Ceramic Mug"), stock("Desk Lamp")
    fill_cart(page, phone=viewport is PHONE)

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^Cart")
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    # 2 × 8.25 + 45.00 = 61.50 net; 6.15 tax; 67.65 in all.
    expect(page.locator(".totals")).to_contain_text("$61.50")
    expect(page.locator(".totals")).to_contain_text("$6.15")
    expect(page.locator(".totals")).to_contain_text("$67.65")
    screenshot(page, f"shop-{size}-cart")

    page.get_by_role("link", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/checkout/$"))
    log_in(page, "erin")
    expect(page).to_have_url(re.compile(r"/checkout/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.get_by_role("table")).to_contain_text("Ceramic Mug")  # the cart survived
    expect(page.get_by_role("table")).to_contain_text("Desk Lamp")
    screenshot(page, f"shop-{size}-checkout")

    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(r"/accounts/orders/\d+/$"))
    (order,) = orders()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order #{order.pk}")
    expect(page.get_by_role("status")).to_contain_text(f"order #{order.pk} is placed")
    expect(page.locator(".totals")).to_contain_text("$67.65")
    expect(page.get_by_text("Pending", exact=True)).to_be_visible()
    assert (stock("Ceramic Mug"), stock("Desk Lamp")) == (mugs - 2, lamps - 1)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Cart", exact=True)).to_be_visible()  # emptied
    screenshot(page, f"shop-{size}-order")

    nav.get_by_role("link", name="Orders").click()
    expect(page.get_by_role("link", name=f"#{order.pk}")).to_be_visible()
    page.get_by_role("link", name=f"#{order.pk}").click()
    page.get_by_role("button", name="Cancel this order").click()
    expect(page.get_by_role("status")).to_contain_text("its items are back in stock")
    expect(page.get_by_text("Cancelled", exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name="Cancel this order")).to_have_count(0)
    assert (stock("Ceramic Mug"), stock("Desk Lamp")) == (mugs, lamps)
    if viewport is PHONE:
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_double_click_on_place_order_places_one_order(shopper, page):
    lamps = stock("Desk Lamp")
    page.goto("/accounts/login/")
    log_in(page, "erin")
    page.goto("/products/desk-lamp/")
    page.get_by_role("button", name="Add to cart").click()
    page.goto("/checkout/")
    page.get_by_role("button", name="Place order").dblclick()
    expect(page).to_have_url(re.compile(r"/accounts/orders/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order #\d+$"))
    page.reload()  # and a reload of the order page changes nothing either
    assert len(orders()) == 1
    assert stock("Desk Lamp") == lamps - 1


def test_sign_up_create_a_token_and_call_the_api_with_it(products, page):
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("frank")
    page.get_by_label("Email").fill("frank@example.com")
    page.get_by_label("Password", exact=True).fill("Tangerine-Sextant-42")
    page.get_by_label("Password confirmation").fill("Tangerine-Sextant-42")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/accounts/profile/$"))
    expect(page.get_by_role("status")).to_contain_text("Welcome, frank")

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("my script")
    page.get_by_label("Expires").select_option(label="in 30 days")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("The new token").input_value()
    assert token
    screenshot(page, "shop-token-created")
    expect(page.get_by_role("table")).to_contain_text("my script")

    api = page.context.request
    headers = {"Authorization": f"Bearer {token}"}
    placed = api.post(
        "/api/orders", headers=headers, data={"items": [{"product_id": 6, "quantity": 1}]}
    )
    assert placed.status == 201, placed.text()
    assert placed.json()["currency"] == "USD"
    assert api.get("/api/orders", headers=headers).json()["count"] == 1

    page.reload()  # a GET: the token is not shown again
    expect(page.get_by_label("The new token")).to_have_count(0)
    page.get_by_role("button", name="Revoke my script").click()
    expect(page.get_by_role("status")).to_contain_text("is revoked")
    assert api.get("/api/orders", headers=headers).status == 401


def test_new_pages_pass_axe(shopper, axe_source, open_page):
    for viewport in (DESKTOP, PHONE):
        page = open_page(viewport=viewport)
        suffix = "" if viewport is DESKTOP else "-phone"
        audit = Audit(page, axe_source)
        page.goto("/cart/")
        audit.check(f"cart-empty{suffix}")
        page.goto("/accounts/signup/")
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("alert").first.wait_for()
        audit.check(f"signup-errors{suffix}")
        page.goto("/accounts/password_reset/")
        audit.check(f"password-reset{suffix}")
        page.get_by_label("Email").fill("erin@example.com")
        page.get_by_role("button", name="Send the link").click()
        page.wait_for_url("**/password_reset/done/")
        audit.check(f"password-reset-done{suffix}")
        page.goto("/accounts/reset/MQ/bad-token/")
        audit.check(f"password-reset-bad-link{suffix}")
        fill_cart(page, phone=viewport is PHONE)
        page.goto("/cart/")
        audit.check(f"cart{suffix}")
        page.goto("/accounts/login/?next=/checkout/")
        log_in(page, "erin")
        page.wait_for_url("**/checkout/")
        audit.check(f"checkout{suffix}")
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url(re.compile(r".*/accounts/orders/\d+/$"))
        audit.check(f"order{suffix}")
        page.goto("/accounts/orders/")
        audit.check(f"orders{suffix}")
        page.goto("/accounts/tokens/")
        audit.check(f"tokens-empty{suffix}")
        page.get_by_label("Name").fill("axe")
        page.get_by_role("button", name="Create token").click()
        audit.check(f"token-created{suffix}")
        page.goto("/accounts/password_change/")
        audit.check(f"password-change{suffix}")
        page.get_by_role("button", name="Change password").click()
        page.get_by_role("alert").first.wait_for()
        audit.check(f"password-change-errors{suffix}")
        page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
        page.wait_for_url("**/")
        audit.assert_clean()
