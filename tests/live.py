"""Start the project under a real uvicorn process for end-to-end tests.

Django's ``live_server`` is a WSGI thread and would not exercise the ASGI
path, so these tests start the project as production does (``python -m
config.runtime.serve``: uvicorn workers) in a subprocess, bound to 127.0.0.1, on the
test database (tests using it must be ``django_db(transaction=True)`` so
their rows are committed and visible)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.runtime.serve import APPLICATION

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL that points at the database this test run is using."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict["USER"] or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@contextlib.contextmanager
def uvicorn_server(
    *, workers: int = 1, extra_env: dict | None = None, database_url: str | None = None
):
    """Yield the base URL of a running uvicorn server; stop it afterwards.
    ``database_url`` points it at another database than the test run's."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url or test_database_url(),
        DJANGO_SECRET_KEY="live-test-secret-key-" + "x" * 40,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DB_POOL_MAX_SIZE="4",
        LOG_LEVEL="WARNING",
    )
    env.update(extra_env or {})
    # As production runs it: config.runtime.serve, one uvicorn server per
    # worker; with the runtime off, plain uvicorn.
    launcher = ["config.runtime.serve"] if settings.RUNTIME else ["uvicorn", APPLICATION]
    if not settings.RUNTIME and int(env.get("TRUSTED_PROXY_COUNT") or 0) == 0:
        # Plain uvicorn trusts forwarded headers from 127.0.0.1 unless told
        # not to; run it as config/settings.py says to, with no proxy.
        launcher.append("--no-proxy-headers")
    command = [
        sys.executable,
        "-m",
        *launcher,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
