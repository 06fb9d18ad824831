"""System checks: a mistyped limit stops start-up instead of surfacing on the
first request."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from config.ratelimit import Rate

RATE_SETTINGS = ("API_THROTTLE_ANON", "API_THROTTLE_TOKEN", "API_THROTTLE_WRITE", "LOGIN_THROTTLE")


@register()
def check_rates(app_configs, **kwargs):
    errors = []
    for name in RATE_SETTINGS:
        try:
            Rate.parse(getattr(settings, name))
        except ValueError as exc:
            errors.append(Error(str(exc), obj=name, id="config.E001"))
    return errors


# Django's security.W001–W003 look for its own middleware by dotted path, so
# they do not see the thread-hop-free subclasses in config.async_middleware
# (settings silences them); this check asks for the same protection by class.
_REQUIRED_MIDDLEWARE = {
    "config.W001": "django.middleware.security.SecurityMiddleware",
    "config.W002": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.W003": "django.middleware.csrf.CsrfViewMiddleware",
}


@register(Tags.security, deploy=True)
def check_security_middleware(app_configs, **kwargs):
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    warnings = []
    for check_id, required_path in _REQUIRED_MIDDLEWARE.items():
        required = import_string(required_path)
        if not any(issubclass(middleware, required) for middleware in installed):
            warnings.append(
                Warning(
                    f"MIDDLEWARE has no {required_path} (or subclass): the protection it "
                    "gives is missing.",
                    id=check_id,
                )
            )
    return warnings
