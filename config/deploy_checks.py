"""Keep ``check --deploy`` complete when Django's security middleware is
installed as a subclass (config.async_middleware) under another dotted path.

Django's deploy checks for HSTS, the SSL redirect, nosniff, the referrer and
opener policies, frame denial and the CSRF cookie first look for
``django.middleware.security.SecurityMiddleware`` (and the clickjacking and
CSRF middleware) *by path* in MIDDLEWARE, and quietly check nothing when it is
not there. Silencing security.W001–W003 for the subclasses would then leave a
clean report that means nothing; this runs those same checks as if the paths
were there, whenever a subclass stands in for them."""

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.security import base, csrf
from django.test.utils import override_settings
from django.utils.module_loading import import_string

_GATED = {
    "django.middleware.security.SecurityMiddleware": [
        base.check_sts,
        base.check_sts_include_subdomains,
        base.check_sts_preload,
        base.check_content_type_nosniff,
        base.check_ssl_redirect,
        base.check_referrer_policy,
        base.check_cross_origin_opener_policy,
    ],
    "django.middleware.clickjacking.XFrameOptionsMiddleware": [base.check_xframe_deny],
    "django.middleware.csrf.CsrfViewMiddleware": [csrf.check_csrf_cookie_secure],
}


@register(Tags.security, deploy=True)
def check_settings_behind_subclassed_middleware(app_configs, **kwargs):
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    stand_ins = [
        path
        for path in _GATED
        if path not in settings.MIDDLEWARE
        and any(issubclass(cls, import_string(path)) for cls in installed)
    ]
    if not stand_ins:
        return []  # Django runs its own checks (or reports the middleware missing)
    messages = []
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, *stand_ins]):
        for path in stand_ins:
            for check in _GATED[path]:
                messages.extend(check(app_configs))
    return messages
