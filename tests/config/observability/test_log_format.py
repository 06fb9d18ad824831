"""What the console shows (LOGGING in config/settings.py): readable lines in
debug, JSON lines otherwise, the request id on every record, secrets
redacted. In a fresh interpreter, since logging is set up once per process."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from tests import live
from tests.config.test_settings import run_python

LOG_A_LINE = (
    "import logging, django; django.setup(); "
    "from config.observability import timing; "
    "token = timing.current.set(timing.RequestState('req-42')); "
    "logging.getLogger('movies').warning('served with password=hunter2'); "
    "timing.current.reset(token); "
    "logging.getLogger('movies').warning('between requests')"
)


def test_production_writes_json_lines_with_the_request_id():
    result = run_python(LOG_A_LINE, DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stderr.strip().splitlines())
    assert first["request_id"] == "req-42"
    assert first["message"] == "served with password=[REDACTED]"
    assert (first["level"], first["logger"]) == ("WARNING", "movies")
    assert second["request_id"] == "-"


def test_development_writes_readable_lines():
    result = run_python(LOG_A_LINE, DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    first, second = result.stderr.strip().splitlines()
    assert first.endswith("WARNING movies [req-42] served with password=[REDACTED]")
    assert second.endswith("WARNING movies [-] between requests")


def test_json_can_be_asked_for_in_development():
    result = run_python(LOG_A_LINE, DJANGO_DEBUG="1", LOG_FORMAT="json")
    assert json.loads(result.stderr.splitlines()[0])["request_id"] == "req-42"


def test_an_unknown_log_format_stops_start_up_with_one_line():
    result = run_python(LOG_A_LINE, DJANGO_DEBUG="1", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert result.stderr.strip() == "LOG_FORMAT must be text or json, not 'xml'."


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_every_line_a_production_worker_writes_is_json(tmp_path):
    if not settings.RUNTIME:
        pytest.skip("DJANGO_RUNTIME=0: config.runtime.serve, which sets up the workers, is off")
    port = live.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOG_"))}
    env.update(
        DATABASE_URL=live.test_database_url(),
        DJANGO_SECRET_KEY="live-test-secret-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="INFO",
    )
    output = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "config.runtime.serve", "--port", str(port)]
    with output.open("w") as stderr:
        process = subprocess.Popen(command, cwd=live.PROJECT_DIR, env=env, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as ok:  # noqa: S310
                    request_id = ok.headers["X-Request-ID"]
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    lines = output.read_text().splitlines()
    # The supervisor's own lines are plain ("INFO: Serving on ..."); the
    # worker's, uvicorn's included, are JSON.
    worker_lines = [line for line in lines if not line.startswith(("INFO: ", "WARNING: "))]
    entries = [json.loads(line) for line in worker_lines]
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)
    accessed = [entry for entry in entries if entry["logger"] == "config.observability.access"]
    (access,) = [entry for entry in accessed if entry["request_id"] == request_id]
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)
