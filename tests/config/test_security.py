"""Production settings and security headers, as a browser or an operator sees
them."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

PROJECT_DIR = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="example.com",
        DJANGO_SECURE_SSL_REDIRECT="1",
    )
    env.update(overrides)
    return env


def test_check_deploy_reports_nothing_with_production_env():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"DJANGO_HSTS_SECONDS": "0"}, "security.W004"),
        ({"DJANGO_SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"DJANGO_SECURE_COOKIES": "0"}, "security.W010"),
        ({"DJANGO_SECURE_COOKIES": "0"}, "security.W016"),
    ],
)
def test_check_deploy_still_catches_a_weakened_setting(override, expected):
    """The clean report above means something only if the checks run: Django
    skips its HSTS, SSL-redirect and CSRF-cookie checks when it does not find
    its middleware in MIDDLEWARE by path (config.runtime.checks)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=production_env(**override),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert expected in result.stderr


@pytest.mark.django_db
def test_html_pages_carry_security_headers_and_a_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


@pytest.mark.django_db
def test_error_pages_and_the_admin_carry_the_policy_too(client):
    assert "Content-Security-Policy" in client.get("/no-such-page/")
    assert "Content-Security-Policy" in client.get("/admin/login/")
    assert "Content-Security-Policy" in client.get("/api/docs")


@pytest.mark.django_db
def test_json_responses_are_nosniff_without_a_page_policy(client):
    response = client.get("/healthz")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response


@pytest.mark.django_db
def test_hsts_on_https_only(client):
    secure = client.get("/healthz", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in client.get("/healthz")


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https_when_asked(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/movies/?page=2")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/movies/?page=2"
    # No proxy declared (TRUSTED_PROXY_COUNT=0): a client's own claim of
    # HTTPS changes nothing.
    assert settings.SECURE_PROXY_SSL_HEADER is None
    forged = client.get("/movies/", headers={"X-Forwarded-Proto": "https"})
    assert forged.status_code == 301
    # Behind a TLS-terminating proxy that says so (TRUSTED_PROXY_COUNT > 0
    # sets this), no redirect loop.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/healthz", headers={"X-Forwarded-Proto": "https"}).status_code == 200


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_the_session_cookie_http_only(user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/", secure=True)
    csrf_cookie = page.cookies["csrftoken"]
    assert csrf_cookie["secure"] is True
    assert csrf_cookie["samesite"] == "Lax"
    response = client.post(
        "/accounts/login/",
        {
            "username": "alice",
            "password": "correct-horse-battery",
            "csrfmiddlewaretoken": csrf_cookie.value,
        },
        secure=True,
        headers={"Referer": "https://testserver/accounts/login/"},
    )
    assert response.status_code == 302
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] is True
    assert session_cookie["httponly"] is True
    assert session_cookie["samesite"] == "Lax"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_login_forms_refuse_a_post_without_csrf_token(user, path):
    client = Client(enforce_csrf_checks=True)
    response = client.post(path, {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_form_works_with_its_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post(
        "/accounts/login/",
        {
            "username": "alice",
            "password": "correct-horse-battery",
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
