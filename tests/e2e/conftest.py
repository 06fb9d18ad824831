"""Browser tests: Playwright (sync API) driving Debian's Chromium against the
project under uvicorn (tests/live.py) on the test database.

Why the fixtures are shaped this way:

- Playwright's sync API runs its event loop in the test's thread and leaves
  it marked as running between calls, so while a browser is open Django's
  ORM raises SynchronousOnlyOperation and pytest-asyncio (the root
  conftest's async autouse fixture) cannot run its own loop. So data is made
  by fixtures that run *before* ``page`` (list ``page`` last in a test's
  arguments), and the browser is started and stopped around each test, before
  pytest-django flushes the database. Starting Chromium costs under a second.
- ``django_db(transaction=True)``: the uvicorn process reads the test
  database through its own connections, so rows must be committed.
- Chromium comes from apt (``make test`` installs it when run as root); the
  browser download ``playwright install`` does is impossible offline. Without
  Chromium the tests skip, except under CI (``CI`` set), where they fail.
- Every page opened is watched for Content-Security-Policy violations and
  JavaScript errors: the pages (and the admin) must work under the CSP that
  config.middleware sends.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.live import PROJECT_DIR, uvicorn_server

E2E_DIR = Path(__file__).resolve().parent
AXE_SCRIPT = E2E_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_DIR / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home on a closed network: they fail, slowly and noisily.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def missing(reason: str):
    """Skip on a developer's machine; fail loudly in CI, where a skipped
    browser suite would pass without proving anything."""
    if in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        missing(
            "Chromium is not installed: `apt-get install chromium` (make test does it as "
            "root), or set CHROMIUM_PATH."
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("the playwright package is missing: `make install` (the dev extra).")
    return path


@pytest.fixture(autouse=True)
def _needs_chromium(chromium_path):
    """Skip (or fail, in CI) before any test data is made."""


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        missing(f"axe-core is not installed: `npm ci` in {E2E_DIR.relative_to(PROJECT_DIR)}.")
    return AXE_SCRIPT.read_text()


@pytest.fixture(scope="session")
def server_url(django_db_setup, chromium_path) -> str:
    """One uvicorn process for the whole run, on the test database."""
    with uvicorn_server() as url:
        yield url


class PageProblems:
    """CSP violations and uncaught script errors seen on the pages."""

    def __init__(self):
        self.items: list[str] = []

    def on_console(self, message):
        if message.type == "error" and "Content Security Policy" in message.text:
            self.items.append(f"CSP: {message.text}")

    def on_page_error(self, error):
        self.items.append(f"script error: {error}")


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser, server_url):
    """``open_page(viewport=...)``: a fresh browser context (no cookies) and
    page on the server. After the test, any CSP violation or script error
    seen on it fails the test."""
    problems = PageProblems()
    contexts = []

    def open_page(viewport=DESKTOP):
        context = browser.new_context(base_url=server_url, viewport=viewport)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems.items, "\n".join(problems.items)


@pytest.fixture
def page(open_page):
    """A desktop-sized page (1280×800). List it last among a test's fixtures."""
    return open_page()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save test-artifacts/screenshots/<name>.png (name: "<flow>-<page>")."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the site's form, from wherever ``page`` is."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


# Data. These run before the browser starts (see the module docstring).

# Classics beyond the fixture's eleven, so that lists have a second page and
# the drama filter has more than one page of results.
EXTRA_FILMS = [
    # title, release date, director, genres, minutes, rating
    ("Casablanca", "1942-11-26", "Michael Curtiz", ["Drama", "Romance"], 102, 85),
    ("Seven Samurai", "1954-04-26", "Akira Kurosawa", ["Action", "Drama"], 207, 86),
    ("Rashomon", "1950-08-25", "Akira Kurosawa", ["Crime", "Drama"], 88, 82),
    ("Ikiru", "1952-10-09", "Akira Kurosawa", ["Drama"], 143, 83),
    ("Bicycle Thieves", "1948-11-24", "Vittorio De Sica", ["Drama"], 89, 83),
    ("Tokyo Story", "1953-11-03", "Yasujirō Ozu", ["Drama"], 136, 81),
    ("Citizen Kane", "1941-05-01", "Orson Welles", ["Drama", "Mystery"], 119, 83),
    ("Vertigo", "1958-05-09", "Alfred Hitchcock", ["Mystery", "Thriller"], 128, 83),
    ("Rear Window", "1954-08-01", "Alfred Hitchcock", ["Mystery", "Thriller"], 112, 85),
    ("Psycho", "1960-06-16", "Alfred Hitchcock", ["Horror", "Thriller"], 109, 85),
    ("Lawrence of Arabia", "1962-12-10", "David Lean", ["Adventure", "Drama", "History"], 218, 83),
    ("One Flew Over the Cuckoo's Nest", "1975-11-19", "Miloš Forman", ["Drama"], 133, 87),
    ("Taxi Driver", "1976-02-08", "Martin Scorsese", ["Crime", "Drama"], 114, 82),
    ("Goodfellas", "1990-09-19", "Martin Scorsese", ["Crime", "Drama"], 145, 87),
    ("Apocalypse Now", "1979-08-15", "Francis Ford Coppola", ["Drama", "War"], 147, 84),
    ("The Seventh Seal", "1957-02-16", "Ingmar Bergman", ["Drama", "Fantasy"], 96, 81),
    ("Wild Strawberries", "1957-12-26", "Ingmar Bergman", ["Drama", "Romance"], 91, 81),
    ("La Dolce Vita", "1960-02-05", "Federico Fellini", ["Comedy", "Drama"], 174, 80),
    ("Paths of Glory", "1957-10-25", "Stanley Kubrick", ["Drama", "War"], 88, 84),
    ("2001: A Space Odyssey", "1968-04-02", "Stanley Kubrick", ["Adventure", "Sci-Fi"], 149, 83),
    ("Sunset Boulevard", "1950-08-10", "Billy Wilder", ["Drama", "Film-Noir"], 110, 84),
    ("The Apartment", "1960-06-15", "Billy Wilder", ["Comedy", "Drama", "Romance"], 125, 83),
    ("Some Like It Hot", "1959-03-29", "Billy Wilder", ["Comedy", "Romance"], 121, 82),
    ("Chinatown", "1974-06-20", "Roman Polanski", ["Drama", "Mystery"], 130, 81),
    ("City Lights", "1931-03-07", "Charles Chaplin", ["Comedy", "Drama", "Romance"], 87, 85),
    ("Modern Times", "1936-02-25", "Charles Chaplin", ["Comedy", "Drama"], 87, 85),
]
FILM_COUNT = 11 + len(EXTRA_FILMS)
DRAMA_COUNT = 7 + sum("Drama" in genres for _, _, _, genres, _, _ in EXTRA_FILMS)


@pytest.fixture
def films(transactional_db):
    """The eleven classics of the project's fixture and the films above."""
    from datetime import date, timedelta

    from django.utils.text import slugify

    from movies.models import Genre, Movie, Person

    call_command("loaddata", "movies", verbosity=0)
    for title, released, director, genres, minutes, rating in EXTRA_FILMS:
        movie = Movie.objects.create(
            title=title,
            slug=slugify(title),
            release_date=date.fromisoformat(released),
            director=Person.objects.get_or_create(name=director)[0],
            duration=timedelta(minutes=minutes),
            rating=rating,
        )
        movie.genres.set(
            Genre.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]
            for name in genres
        )
    return FILM_COUNT


@pytest.fixture
def products(transactional_db):
    """The demo catalog: 4 categories, 11 active products, stock from 0 up."""
    call_command("loaddata", "catalog_demo", verbosity=0)


@pytest.fixture
def customer(products, django_user_model):
    """alice, with a paid, a pending and a cancelled order."""
    from catalog.models import Order, Product
    from tests.catalog.factories import make_order

    alice = django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD
    )
    by_name = {p.name: p for p in Product.objects.all()}
    make_order(
        user=alice,
        status=Order.Status.PAID,
        items=[(by_name["Two Scoops of Django"], 1), (by_name["Ceramic Mug"], 2)],
    )
    make_order(user=alice, status=Order.Status.CANCELLED, items=[(by_name["Desk Lamp"], 1)])
    make_order(
        user=alice,
        status=Order.Status.PENDING,
        items=[(by_name["Trail Backpack"], 1), (by_name["Camping Lantern"], 2)],
    )
    return alice


@pytest.fixture
def site_admin(transactional_db, django_user_model):
    """A staff superuser for the admin flow."""
    return django_user_model.objects.create_superuser(
        username="admin", email="admin@example.com", password=PASSWORD
    )
