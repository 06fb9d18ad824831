"""Settings read from the environment, checked in a fresh interpreter each
time, since settings are evaluated once per process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

PROJECT_DIR = Path(__file__).resolve().parents[2]

PRINT_DB = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps(settings.DATABASES['default'], default=str))"
)


def run_python(code: str, **env_overrides: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sqlite_is_the_default_database():
    result = run_python(PRINT_DB, DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    db = json.loads(result.stdout)
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"].endswith("db.sqlite3")


def test_postgres_url_selects_psycopg_with_pool_and_health_checks():
    result = run_python(
        PRINT_DB,
        DJANGO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://someone@db.example:5433/shop",
        DB_POOL_MAX_SIZE="7",
        DB_POOL_TIMEOUT="3.5",
    )
    assert result.returncode == 0, result.stderr
    db = json.loads(result.stdout)
    assert db["ENGINE"] == "config.runtime.postgresql"  # Django's, failing fast
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "db.example",
        5433,
        "shop",
        "someone",
    )
    assert db["OPTIONS"]["pool"]["max_size"] == 7
    assert db["OPTIONS"]["pool"]["timeout"] == 3.5
    assert db["CONN_MAX_AGE"] == 0
    assert db["CONN_HEALTH_CHECKS"] is True


def test_missing_secret_key_without_debug_refuses_to_start_with_one_line():
    result = run_python(PRINT_DB)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "DJANGO_SECRET_KEY" in message
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1


def test_debug_runs_without_secret_key():
    result = run_python(
        "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)",
        DJANGO_DEBUG="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_debug_is_off_unless_asked_for():
    result = run_python(
        "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)",
        DJANGO_SECRET_KEY="x" * 50,
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("path", settings.MIDDLEWARE)
def test_every_middleware_is_async_capable(path):
    middleware = import_string(path)
    assert getattr(middleware, "async_capable", False), f"{path} would force a thread hop"


def run_manage(*args: str, **env_overrides: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update({k: v for k, v in env_overrides.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRINT_DEBUG = ["shell", "-v", "0", "-c", "from django.conf import settings; print(settings.DEBUG)"]


def test_manage_py_without_a_secret_key_is_development():
    # The README's `.venv/bin/python manage.py createsuperuser`, as written.
    result = run_manage(*PRINT_DEBUG)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_manage_py_with_a_secret_key_keeps_debug_off():
    result = run_manage(*PRINT_DEBUG, DJANGO_SECRET_KEY="x" * 50)
    assert result.stdout.strip() == "False"


def test_manage_py_with_debug_turned_off_still_needs_the_secret_key():
    result = run_manage(*PRINT_DEBUG, DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_server_gets_no_development_default():
    # What production imports: without a secret key it stops, debug or not.
    result = run_python("import config.asgi")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
