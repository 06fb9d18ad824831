from django.core import checks

from config.runtime.checks import check_security_middleware


def test_thread_hop_free_middleware_satisfy_the_security_check():
    assert check_security_middleware(None) == []


def test_missing_csrf_middleware_is_reported(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "Csrf" not in m]
    warnings = check_security_middleware(None)
    assert [w.id for w in warnings] == ["runtime.W003"]
    assert warnings[0].level == checks.WARNING
