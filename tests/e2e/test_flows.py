"""What visitors, customers and staff do on the site, in Chromium, against
uvicorn. Each flow saves a screenshot of every page it passes through to
test-artifacts/screenshots/<flow>-<page>.png."""

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium_path fixture skips the tests (fails them in CI)
    expect = None

from tests.e2e.conftest import DRAMA_COUNT, FILM_COUNT, PHONE, log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def result_titles(page) -> list[str]:
    return page.locator("table.listing tbody td:first-child a").all_inner_texts()


def test_search_for_a_movie_and_open_it(films, page):
    page.goto("/")
    expect(page).to_have_title("Welcome · Reel & Shelf")
    screenshot(page, "search-home", full_page=False)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Movies").click()
    expect(page).to_have_url(re.compile(r"/movies/$"))
    expect(nav.get_by_role("link", name="Movies")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text(f"{FILM_COUNT} films.")).to_be_visible()
    screenshot(page, "search-movie-list", full_page=False)

    page.get_by_role("searchbox", name="Title").fill("godfather")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/movies/\?q=godfather"))
    expect(page.get_by_text("2 films found.")).to_be_visible()
    assert result_titles(page) == ["The Godfather", "The Godfather: Part II"]
    screenshot(page, "search-results")

    page.get_by_role("link", name="The Godfather", exact=True).click()
    expect(page).to_have_url(re.compile(r"/movies/the-godfather/$"))
    expect(page).to_have_title("The Godfather (1972) · Reel & Shelf")
    expect(page.get_by_role("heading", level=1)).to_have_text("The Godfather (1972)")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Francis Ford Coppola")
    expect(facts).to_contain_text("2 h 55 min")
    expect(facts).to_contain_text("92/100")
    expect(facts).to_contain_text("24 March 1972")
    expect(facts.get_by_role("link")).to_have_text(["Crime", "Drama"])
    screenshot(page, "search-movie-detail")

    # A genre on the detail page leads to the list filtered by it.
    facts.get_by_role("link", name="Crime").click()
    expect(page).to_have_url(re.compile(r"/movies/\?genre=crime$"))
    expect(page.get_by_label("Genre")).to_have_value("crime")
    assert "The Godfather" in result_titles(page)


def test_filter_and_paginate_keep_each_others_state(films, page):
    page.goto("/movies/")
    page.get_by_label("Genre").select_option(label="Drama")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/movies/\?q=&genre=drama$"))
    expect(page.get_by_text(f"{DRAMA_COUNT} films found.")).to_be_visible()
    pagination = page.get_by_role("navigation", name="Pagination")
    expect(pagination.locator("[aria-current=page]")).to_have_text("1")
    first_page = result_titles(page)
    assert len(first_page) == 20
    screenshot(page, "filter-drama-page-1")

    pagination.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"genre=drama&page=2$"))
    expect(page.get_by_label("Genre")).to_have_value("drama")
    expect(pagination.locator("[aria-current=page]")).to_have_text("2")
    expect(pagination).to_contain_text(f"Page 2 of {-(-DRAMA_COUNT // 20)}")
    second_page = result_titles(page)
    assert len(second_page) == DRAMA_COUNT - 20
    assert not set(first_page) & set(second_page)
    assert second_page == sorted(second_page) and first_page[-1] < second_page[0]
    screenshot(page, "filter-drama-page-2")

    # Searching within the genre keeps the genre and starts again at page 1.
    # (A word, not "the": PostgreSQL's full-text search ignores stop words.)
    page.get_by_role("searchbox", name="Title").fill("god")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q=god&genre=drama$"))
    expect(page.get_by_label("Genre")).to_have_value("drama")
    assert result_titles(page) == ["The Godfather", "The Godfather: Part II"]
    screenshot(page, "filter-drama-search")

    # The page-number links keep both too.
    page.goto("/movies/?q=&genre=drama&page=2")
    page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page 1").click()
    expect(page).to_have_url(re.compile(r"genre=drama&page=1$"))
    assert result_titles(page) == first_page

    page.get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/movies/$"))
    expect(page.get_by_text(f"{FILM_COUNT} films.")).to_be_visible()


def test_products_by_category_with_prices_and_stock(products, page):
    page.goto("/products/")
    expect(page.get_by_text("11 products; prices with tax include 10% tax.")).to_be_visible()
    rows = page.locator("table.listing tbody tr")
    expect(rows.filter(has_text="Designing Data-Intensive Applications")).to_contain_text(
        "Sold out"
    )
    expect(rows.filter(has_text="Desk Lamp")).to_contain_text("Only 3 left")
    expect(rows.filter(has_text="Ceramic Mug")).to_contain_text("In stock")
    screenshot(page, "products-list")

    page.get_by_label("Category").select_option(label="Kitchen")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/products/\?category=kitchen&q=$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Kitchen")
    assert result_titles(page) == ["Cast Iron Skillet", "Ceramic Mug", "Pour-over Coffee Kettle"]
    screenshot(page, "products-kitchen")

    page.get_by_role("link", name="Cast Iron Skillet").click()
    expect(page).to_have_url(re.compile(r"/products/cast-iron-skillet/$"))
    box = page.get_by_role("complementary", name="Price and availability")
    expect(box).to_contain_text("37.95")  # 34.50 with 10% tax
    expect(box).to_contain_text("Net price")
    expect(box).to_contain_text("34.50")
    expect(box).to_contain_text("In stock")
    screenshot(page, "products-detail")


def test_sign_in_and_see_the_profile_with_orders(customer, page):
    page.goto("/accounts/profile/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/accounts/profile/$"))
    screenshot(page, "profile-login")
    log_in(page, "alice")
    expect(page).to_have_url(re.compile(r"/accounts/profile/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    expect(page.get_by_role("main")).to_contain_text("alice@example.com")

    orders = page.get_by_role("region", name="Recent orders").locator("tbody tr")
    expect(orders).to_have_count(3)
    # Newest first; totals include 10% tax.
    expect(orders.nth(0)).to_contain_text("Pending")
    expect(orders.nth(0)).to_contain_text("130.95")  # 119.05 + 11.90 tax
    expect(orders.nth(1)).to_contain_text("Cancelled")
    expect(orders.nth(1)).to_contain_text("49.50")
    expect(orders.nth(2)).to_contain_text("Paid")
    expect(orders.nth(2)).to_contain_text("62.09")  # 56.45 + 5.64 tax
    screenshot(page, "profile-orders")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_staff_adds_a_movie_in_the_admin_and_finds_it_on_the_site(films, site_admin, page):
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    page.goto("/admin/movies/movie/add/")
    page.get_by_label("Title").fill("Le Samouraï")
    page.get_by_label("Release date").fill("1967-10-25")
    # Leaving the title filled in the slug: the admin's script works under our CSP.
    expect(page.get_by_label("Slug")).to_have_value("le-samourai")
    page.get_by_label("Rating").fill("81")
    page.get_by_label("Duration").fill("01:45:00")
    # Genres: the two-pane picker. Pick two and press "Choose".
    available = page.locator("#id_genres_from")
    available.select_option(label=["Crime", "Drama"])
    page.locator("#id_genres_add").click()
    expect(page.locator("#id_genres_to option")).to_have_text(["Crime", "Drama"])
    screenshot(page, "admin-add-movie")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    screenshot(page, "admin-movie-added", full_page=False)

    page.goto("/movies/?q=samoura")
    expect(page.get_by_text("1 film found.")).to_be_visible()
    assert result_titles(page) == ["Le Samouraï"]
    page.get_by_role("link", name="Le Samouraï").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Le Samouraï (1967)")
    facts = page.locator("dl.facts")
    expect(facts.get_by_role("link")).to_have_text(["Crime", "Drama"])
    expect(facts).to_contain_text("1 h 45 min")
    expect(facts).to_contain_text("81/100")
    expect(facts).to_contain_text("Unknown")  # no director given
    screenshot(page, "admin-movie-on-site")


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                tag: el.tagName.toLowerCase(),
                id: el.id,
                text: (el.innerText || '').trim(),
                href: el.getAttribute('href'),
                inResults: !!el.closest('table.listing tbody'),
                outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
            };
        }"""
    )


def test_keyboard_only_movie_search(films, page):
    page.goto("/movies/")
    # From the top of the page: the first Tab reaches the skip link.
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["text"] == "Skip to content"
    assert first["outline"], "focus must be visible"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "id_q", focused(page)
    assert focused(page)["outline"]
    page.keyboard.type("godfather")
    screenshot(page, "keyboard-search-typed", full_page=False)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/movies/\?q=godfather"))
    expect(page.get_by_text("2 films found.")).to_be_visible()

    # Tab on until the first result; every stop on the way shows its focus.
    for _ in range(15):
        page.keyboard.press("Tab")
        stop = focused(page)
        assert stop["outline"], f"no visible focus on {stop}"
        if stop["inResults"]:
            break
    else:
        pytest.fail("15 Tabs did not reach the first result")
    assert stop["text"] == "The Godfather"
    screenshot(page, "keyboard-first-result-focused", full_page=False)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/movies/the-godfather/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("The Godfather (1972)")
    screenshot(page, "keyboard-movie-detail", full_page=False)


PHONE_PAGES = [
    ("home", "/"),
    ("movie-list", "/movies/?genre=drama"),
    ("movie-detail", "/movies/lawrence-of-arabia/"),
    ("product-list", "/products/"),
    ("product-detail", "/products/pour-over-coffee-kettle/"),
    ("not-found", "/movies/no-such-film/"),
]


def test_pages_fit_a_phone(films, products, open_page):
    page = open_page(viewport=PHONE)
    for name, path in PHONE_PAGES:
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px wide"
        screenshot(page, f"phone-{name}")
