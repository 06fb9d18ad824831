import pytest
from django.core import checks
from django.http import HttpResponse
from django.middleware import security
from django.test import RequestFactory

from config.runtime import middleware
from config.runtime.checks import check_security_middleware


def test_thread_hop_free_middleware_satisfy_the_security_check():
    assert check_security_middleware(None) == []


def test_missing_csrf_middleware_is_reported(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "Csrf" not in m]
    warnings = check_security_middleware(None)
    assert [w.id for w in warnings] == ["runtime.W003"]
    assert warnings[0].level == checks.WARNING


def _headers(response: HttpResponse) -> list[tuple[str, str]]:
    return sorted(response.items())


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize(
    "configured",
    [
        {},
        {"SECURE_HSTS_SECONDS": 3600, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True},
        {
            "SECURE_HSTS_SECONDS": 60,
            "SECURE_HSTS_PRELOAD": True,
            "SECURE_REFERRER_POLICY": ["no-referrer", "strict-origin"],
            "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
        },
        {"SECURE_CONTENT_TYPE_NOSNIFF": False, "SECURE_REFERRER_POLICY": " origin , same-origin"},
    ],
)
def test_security_headers_are_the_ones_django_s_middleware_sets(settings, configured, secure):
    for name, value in configured.items():
        setattr(settings, name, value)
    request = RequestFactory().get("/api/movies", secure=secure)
    ours = middleware.SecurityMiddleware(lambda request: HttpResponse())
    django_s = security.SecurityMiddleware(lambda request: HttpResponse())
    for existing in ({}, {"Referrer-Policy": "no-referrer", "strict-transport-security": "x"}):
        expected = django_s.process_response(request, HttpResponse(headers=existing))
        got = ours.process_response(request, HttpResponse(headers=existing))
        assert _headers(got) == _headers(expected)
        assert got.serialize_headers() == expected.serialize_headers()
