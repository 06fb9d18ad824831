"""Every page passes axe-core (tests/e2e/node_modules, from npm): no
violation of impact "serious" or "critical", checked in Chromium under the
pages' real Content-Security-Policy.

axe is injected with ``page.evaluate`` (the DevTools protocol, which the
page's CSP does not govern), not a ``<script>`` tag, which the CSP would
rightly refuse: so the pages are checked exactly as visitors get them."""

import json

import pytest
from django.template import loader

from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKING = {"serious", "critical"}

PUBLIC_PAGES = [
    ("home", "/"),
    ("movie-list", "/movies/"),
    ("movie-list-filtered-page-2", "/movies/?genre=drama&page=2"),
    ("movie-list-no-match", "/movies/?q=zzzz"),
    ("movie-list-bad-genre", "/movies/?genre=no-such-genre"),
    ("movie-detail", "/movies/the-godfather/"),
    ("product-list", "/products/"),
    ("product-list-category", "/products/?category=kitchen"),
    ("product-detail", "/products/desk-lamp/"),
    ("login", "/accounts/login/"),
    ("not-found", "/movies/no-such-film/"),
]


def axe_violations(page, axe_source) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result
    ]


class Audit:
    """Collects every page's violations; fails once, listing them all."""

    def __init__(self, page, axe_source):
        self.page = page
        self.axe_source = axe_source
        self.blocking: dict[str, list] = {}
        self.minor: dict[str, list] = {}

    def check(self, name: str) -> None:
        screenshot(self.page, f"a11y-{name}")
        for violation in axe_violations(self.page, self.axe_source):
            target = self.blocking if violation["impact"] in BLOCKING else self.minor
            target.setdefault(f"{name} ({self.page.url})", []).append(violation)

    def assert_clean(self) -> None:
        if self.minor:
            # Not failures, but worth seeing in the test output.
            print("axe, moderate and minor:", json.dumps(self.minor, indent=2))
        assert not self.blocking, "axe found serious or critical violations:\n" + json.dumps(
            self.blocking, indent=2
        )


@pytest.fixture
def error_pages():
    """The 500 and 503 pages as config.views renders them (no request, no
    context), rendered now, before the browser starts."""
    return {code: loader.get_template(f"{code}.html").render() for code in (500, 503)}


def serve(html: str, status: int):
    def handler(route):
        route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")

    return handler


def test_public_pages_pass_axe(films, products, error_pages, axe_source, page):
    audit = Audit(page, axe_source)
    for name, path in PUBLIC_PAGES:
        response = page.goto(path)
        assert response.status == (404 if name == "not-found" else 200), path
        audit.check(name)

    # A failed login shows its error.
    page.goto("/accounts/login/")
    log_in(page, "nobody", "wrong-password")
    page.get_by_role("alert").wait_for()
    audit.check("login-error")

    # No URL of the app fails on purpose: serve the error pages' HTML at a
    # path of the real server, so their stylesheet and icon load from it.
    for code, html in error_pages.items():
        page.route(f"**/error-{code}/", serve(html, code))
        page.goto(f"/error-{code}/")
        assert page.locator("link[rel=stylesheet]").evaluate("l => l.sheet !== null")
        audit.check(f"server-error-{code}")
    audit.assert_clean()


def test_signed_in_pages_pass_axe(customer, axe_source, page):
    audit = Audit(page, axe_source)
    page.goto("/accounts/login/")
    log_in(page, "alice")
    page.wait_for_url("**/accounts/profile/")
    audit.check("profile")
    page.goto("/products/")
    audit.check("product-list-signed-in")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")
    audit.check("home-after-log-out")
    audit.assert_clean()
