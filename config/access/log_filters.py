"""Keep secrets out of logs and error reports.

``RedactSecretsFilter`` is installed on every handler in ``LOGGING``. It
rewrites the record in place (message, arguments and traceback text), so every
handler after it, and anything that reads the record later, sees the redacted
text. ``SafeExceptionReporterFilter`` covers the other path secrets take: the
request's headers and POST data in error reports (mail to admins, the debug
page)."""

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

from config.access.token_format import TOKEN_MARKER

REDACTED = "[REDACTED]"

# Field and parameter names whose values are secrets.
_SECRET_NAMES = "|".join(
    [r"password\d?", "passwd", r"new_password\d?", "old_password", "token", "api[_-]?key"]
    + ["secret", "csrfmiddlewaretoken", "sessionid", "csrftoken"]
)
_SECRET_NAMES = f"(?:{_SECRET_NAMES})"

_PATTERNS = [
    # Authorization: Bearer abc / 'HTTP_AUTHORIZATION': 'Bearer abc' / "authorization": "Basic abc"
    (
        re.compile(
            r"""(?i)((?:HTTP_)?AUTHORIZATION['"]?\s*[:=]\s*['"]?)(?:(?:Bearer|Basic|Token)\s+)?[^'"\s,}\]]+"""
        ),
        r"\1" + REDACTED,
    ),
    # One of our API tokens, wherever it appears.
    (re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(TOKEN_MARKER)}[A-Za-z0-9_-]{{16,}}"), REDACTED),
    # A bearer or basic credential anywhere else.
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/=]{8,}"), r"\1" + REDACTED),
    # django-ninja logs a malformed Authorization header whole in debug mode.
    (re.compile(r"(Unexpected auth - ')[^']*"), r"\1" + REDACTED),
    # password=secret&... (query strings, form bodies, key=value messages)
    (re.compile(rf"(?i)\b({_SECRET_NAMES}=)[^&\s'\"]*"), r"\1" + REDACTED),
    # 'password': 'secret' / "password": ["secret"] (dict, JSON and QueryDict reprs)
    (
        re.compile(rf"""(?i)(['"]{_SECRET_NAMES}['"]\s*:\s*)(\[[^\]]*\]|'[^']*'|"[^"]*")"""),
        r"\1'" + REDACTED + "'",
    ),
    # Cookie headers carry the session id.
    (re.compile(r"""(?i)((?:HTTP_)?COOKIE['"]?\s*[:=]\s*['"]?)[^'"\n]+"""), r"\1" + REDACTED),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Scrub ``Authorization`` headers, bearer tokens, cookies and password
    fields from a log record. Never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's business, not ours
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._secrets_redacted = True
        return True


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Error reports hide credentials in the request too: the
    ``Authorization`` and ``Cookie`` headers (Django already hides META keys
    matching AUTH, but says so only by that pattern) and any POST field named
    like a password or token, whether or not the view declared it with
    ``sensitive_post_parameters``."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CSRF|SESSION", flags=re.IGNORECASE
    )
    sensitive_meta = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_X_API_KEY")

    def get_safe_request_meta(self, request):
        meta = super().get_safe_request_meta(request)
        for key in self.sensitive_meta:
            if key in meta:
                meta[key] = self.cleansed_substitute
        return meta

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        if request is None or not parameters:
            return parameters
        sensitive = [key for key in parameters if self.hidden_settings.search(key)]
        if not sensitive:
            return parameters
        cleansed = parameters.copy()
        for key in sensitive:
            cleansed[key] = self.cleansed_substitute
        return cleansed
