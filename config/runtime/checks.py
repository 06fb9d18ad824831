"""Django's security checks, kept whole while the runtime's middleware stands
in for Django's.

Django's checks find ``SecurityMiddleware``, ``XFrameOptionsMiddleware`` and
``CsrfViewMiddleware`` by dotted path in MIDDLEWARE. With the runtime's
subclasses (config.runtime.middleware) in their place, security.W001–W003
would report them missing, and the deploy checks gated on them (HSTS, the SSL
redirect, nosniff, the referrer and opener policies, frame denial, the CSRF
cookie) would quietly check nothing. So while ``RUNTIME_MIDDLEWARE`` is on,
settings silence W001–W003, ``check_security_middleware`` asks for the same
middleware by class (runtime.W001–W003), and
``check_settings_behind_subclassed_middleware`` runs Django's gated checks as
if the paths were there. With the runtime middleware off both find Django's
own paths and do nothing: Django's checks run as usual.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register
from django.core.checks.security import base, csrf
from django.test.utils import override_settings
from django.utils.module_loading import import_string

# Each Django middleware Django's checks look for by path: the id of the
# warning that stands in for its security.W00x, and the checks gated on it.
_GATED = {
    "django.middleware.security.SecurityMiddleware": (
        "runtime.W001",
        [
            base.check_sts,
            base.check_sts_include_subdomains,
            base.check_sts_preload,
            base.check_content_type_nosniff,
            base.check_ssl_redirect,
            base.check_referrer_policy,
            base.check_cross_origin_opener_policy,
        ],
    ),
    "django.middleware.clickjacking.XFrameOptionsMiddleware": (
        "runtime.W002",
        [base.check_xframe_deny],
    ),
    "django.middleware.csrf.CsrfViewMiddleware": ("runtime.W003", [csrf.check_csrf_cookie_secure]),
}


def _stood_in(path: str, installed: list[type]) -> bool:
    """Whether a subclass of Django's ``path`` is installed under another path."""
    return path not in settings.MIDDLEWARE and any(
        issubclass(cls, import_string(path)) for cls in installed
    )


@register(Tags.security, deploy=True)
def check_security_middleware(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    return [
        Warning(
            f"MIDDLEWARE has no {path} (or subclass): the protection it gives is missing.",
            id=check_id,
        )
        for path, (check_id, _) in _GATED.items()
        if not any(issubclass(cls, import_string(path)) for cls in installed)
        and "security." + check_id.split(".")[1] in settings.SILENCED_SYSTEM_CHECKS
    ]


@register(Tags.security, deploy=True)
def check_settings_behind_subclassed_middleware(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    installed = [import_string(path) for path in settings.MIDDLEWARE]
    stand_ins = [path for path in _GATED if _stood_in(path, installed)]
    if not stand_ins:
        return []  # Django runs its own checks (or reports the middleware missing)
    messages: list[CheckMessage] = []
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, *stand_ins]):
        for path in stand_ins:
            for check in _GATED[path][1]:
                messages.extend(check(app_configs))
    return messages
