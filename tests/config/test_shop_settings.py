"""Mail and currency settings from the environment, read in a fresh
interpreter (settings are evaluated once per process)."""

import json
import os
import subprocess
import sys

import pytest

from tests.config.test_settings import PROJECT_DIR

PRINT_SHOP = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({k: getattr(settings, k) for k in ("
    "'EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_USE_TLS', 'DEFAULT_FROM_EMAIL', "
    "'CURRENCY_CODE', 'CURRENCY_SYMBOL', 'SITE_URL')}))"
)


def shop_settings(**overrides: str) -> dict:
    # Not the test run's own environment: its in-memory mail backend included.
    prefixes = ("DJANGO_", "DATABASE_", "EMAIL_", "CURRENCY_", "SITE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", **overrides}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SHOP],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_mail_goes_to_the_console_in_debug():
    assert shop_settings(DJANGO_DEBUG="1")["EMAIL_BACKEND"] == (
        "django.core.mail.backends.console.EmailBackend"
    )


def test_mail_goes_out_over_smtp_in_production_as_configured():
    values = shop_settings(
        DJANGO_SECRET_KEY="x" * 50,
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT="587",
        EMAIL_USE_TLS="1",
        DEFAULT_FROM_EMAIL="Shop <shop@example.com>",
    )
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["EMAIL_HOST"] == "smtp.example.com"
    assert values["EMAIL_PORT"] == 587
    assert values["EMAIL_USE_TLS"] is True
    assert values["DEFAULT_FROM_EMAIL"] == "Shop <shop@example.com>"


@pytest.mark.parametrize(
    ("env", "code", "symbol"),
    [({}, "USD", "$"), ({"CURRENCY_CODE": " eur ", "CURRENCY_SYMBOL": "€"}, "EUR", "€")],
)
def test_currency_defaults_and_overrides(env, code, symbol):
    values = shop_settings(DJANGO_SECRET_KEY="x" * 50, **env)
    assert (values["CURRENCY_CODE"], values["CURRENCY_SYMBOL"]) == (code, symbol)
