"""System checks: a mistyped limit stops start-up instead of surfacing on the
first request."""

from django.conf import settings
from django.core.checks import Error, register

from config.access.ratelimit import Rate

RATE_SETTINGS = (
    "API_THROTTLE_ANON",
    "API_THROTTLE_TOKEN",
    "API_THROTTLE_WRITE",
    "LOGIN_THROTTLE",
    "LOGIN_THROTTLE_ADDRESS",
)


@register()
def check_rates(app_configs, **kwargs):
    errors = []
    for name in RATE_SETTINGS:
        try:
            Rate.parse(getattr(settings, name))
        except ValueError as exc:
            errors.append(Error(str(exc), obj=name, id="config.E001"))
    return errors
