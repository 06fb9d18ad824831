"""No token, password or Authorization header reaches the logs or an error
report, even when a failure echoes them."""

import io
import logging
import sys

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from config.access.log_filters import RedactSecretsFilter, SafeReporterFilter

PASSWORD = "correct-horse-battery"


def project_handlers():
    """The handlers LOGGING installed (pytest adds its own capture handlers)."""
    return [h for h in logging.getLogger().handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture
def console_output():
    """What the configured console handler writes, captured."""
    (handler,) = project_handlers()
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_every_configured_handler_redacts_secrets():
    for name, handler in django_settings.LOGGING["handlers"].items():
        assert "redact_secrets" in handler.get("filters", []), name
    handlers = project_handlers()
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters)


@pytest.mark.django_db
def test_failing_api_request_with_a_token_leaves_no_token_in_the_log(
    client, caplog, console_output, monkeypatch, user_token
):
    def failing_hash(token):
        # A library error that echoes its input, as many do.
        raise ValueError(f"cannot hash {token!r}")

    monkeypatch.setattr("config.access.tokens.hash_token", failing_hash)
    caplog.set_level(logging.INFO)
    response = client.get("/api/orders", headers={"Authorization": f"Bearer {user_token}"})
    assert response.status_code == 500
    assert user_token not in response.content.decode()
    assert "cannot hash" in caplog.text  # the failure itself is logged, traceback and all
    assert "Traceback" in caplog.text
    for text in (caplog.text, console_output.getvalue()):
        assert user_token not in text
        assert user_token[3:20] not in text
    assert "[REDACTED]" in console_output.getvalue()


@pytest.mark.django_db
def test_failing_login_post_leaves_no_password_in_the_log(
    client, caplog, console_output, monkeypatch, user
):
    def failing_backend(self, request, username=None, password=None, **kwargs):
        raise RuntimeError(f"directory lookup failed for {request.POST}")

    monkeypatch.setattr("django.contrib.auth.backends.ModelBackend.authenticate", failing_backend)
    client.raise_request_exception = False
    caplog.set_level(logging.INFO)
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 500
    assert "directory lookup failed" in caplog.text
    for text in (caplog.text, console_output.getvalue()):
        assert PASSWORD not in text
        assert "alice" in text  # only the secret goes, not the context


@pytest.mark.parametrize(
    ("message", "args", "secret"),
    [
        ("headers %s", ({"Authorization": "Bearer abc.def-123"},), "abc.def-123"),
        ("meta %r", ({"HTTP_AUTHORIZATION": "Token xyz987"},), "xyz987"),
        ("form %s", ("username=alice&password=hunter2&next=/",), "hunter2"),
        ("json %s", ('{"new_password1": "s3cr3t pass"}',), "s3cr3t pass"),
        ("cookie %s", ({"HTTP_COOKIE": "sessionid=k4j5h6; csrftoken=zz"},), "k4j5h6"),
        ("token %s leaked", ("rs_" + "Ab1-" * 11,), "Ab1-Ab1-Ab1-"),
        ("Unexpected auth - '%s'", ("Digest qwerty-42",), "qwerty-42"),
        ("upstream sent %s", ("Basic dXNlcjpwYXNzd29yZA==",), "dXNlcjpwYXNzd29yZA=="),
    ],
)
def test_filter_redacts_secrets_in_messages_and_arguments(message, args, secret):
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, message, args, None)
    assert RedactSecretsFilter().filter(record) is True
    text = logging.Formatter().format(record)
    assert secret not in text
    assert "[REDACTED]" in text


def test_filter_redacts_tracebacks():
    try:
        raise ValueError("bad header Authorization: Bearer leaked-token-value")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactSecretsFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "ValueError" in text
    assert "leaked-token-value" not in text


REPORT_TOKEN = "rs_" + "report-secret"
REPORT_SESSION = "sess-" + "secret"


def login_request_with_credentials():
    return RequestFactory().post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        headers={
            "Authorization": f"Bearer {REPORT_TOKEN}",
            "Cookie": f"sessionid={REPORT_SESSION}",
        },
    )


def report_for(request):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info())


def test_error_reports_hide_authorization_cookie_and_password_fields():
    request = login_request_with_credentials()
    meta = SafeReporterFilter().get_safe_request_meta(request)
    assert meta["HTTP_AUTHORIZATION"] == SafeReporterFilter.cleansed_substitute
    reporter = report_for(request)
    assert isinstance(reporter.filter, SafeReporterFilter)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert REPORT_TOKEN not in report
        assert REPORT_SESSION not in report
        assert PASSWORD not in report
        assert "alice" in report
