"""What the console shows (LOGGING in config/settings.py): readable lines in
debug, JSON lines otherwise, the request id on every record, secrets
redacted. In a fresh interpreter, since logging is set up once per process."""

import json

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
