"""Django's debug pages under the site's Content-Security-Policy: legible in
development (their inline style and script allowed), never relaxed with
debug off."""

import pytest
from django.test import override_settings

from config.middleware import _with_inline

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=True)
def test_the_debug_404_may_use_its_inline_style_and_script(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Using the URLconf defined in" in response.content  # Django's debug page
    csp = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self' 'unsafe-inline'" in csp
    assert "frame-ancestors 'none'" in csp


@override_settings(DEBUG=True)
def test_the_site_s_own_pages_keep_the_strict_policy_in_debug(client):
    for path in ("/", "/movies/", "/admin/login/"):
        assert "unsafe-inline" not in client.get(path)["Content-Security-Policy"], path


def test_with_debug_off_no_page_gets_inline_style(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_a_policy_without_style_or_script_directives_gains_them():
    assert _with_inline("default-src 'none'") == (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
    )
