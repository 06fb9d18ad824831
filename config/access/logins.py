"""Logging in, for the site and the admin: failed attempts are throttled per
user name and client address (``LOGIN_THROTTLE``, default 5 per 15 minutes).

Past the limit the form refuses even the right password until the window
ends, with "Too many failed attempts, try again in N minutes." and HTTP 429;
a successful login clears the count. Counting per name *and* address means
an attacker guessing one account cannot lock its owner out from elsewhere.
"""

import math
from functools import wraps
from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from config.access import ratelimit
from config.text import without_nul

SCOPE = "login-failures"


def _ident(username: str, request) -> str:
    return f"{username.strip().lower()}|{ratelimit.client_address(request)}"


# The mixin's methods call the form's (has_error, clean); at run time it stays
# a plain mixin ahead of the form class in each subclass's bases.
if TYPE_CHECKING:
    _LoginFormBase = AuthenticationForm
else:
    _LoginFormBase = object


class ThrottledLoginMixin(_LoginFormBase):
    """For ``AuthenticationForm`` subclasses (they receive the request)."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        rate = ratelimit.rate_setting("LOGIN_THROTTLE")
        if not (username and password and rate and self.request is not None):
            return super().clean()
        ident = _ident(username, self.request)
        current = ratelimit.peek(SCOPE, ident, rate)
        if current.count >= rate.limit:
            self.retry_after = current.retry_after
            minutes = math.ceil(current.retry_after / 60)
            raise ValidationError(
                "Too many failed attempts, try again in %(minutes)d minute%(plural)s.",
                code="throttled",
                params={"minutes": minutes, "plural": "" if minutes == 1 else "s"},
            )
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) in {"invalid_login", "inactive"}:
                ratelimit.hit(SCOPE, ident, rate)
            raise
        ratelimit.reset(SCOPE, ident, rate)
        return cleaned

    def is_throttled(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, "throttled")


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def _mark_throttled(response, form):
    if form is not None and form.is_bound and form.is_throttled():
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm

    def form_invalid(self, form):
        return _mark_throttled(super().form_invalid(form), form)


class ProjectAdminSite(admin.AdminSite):
    """The admin, staff only as Django's, with the throttled login form.
    Every admin view (change lists, their search and filters, autocomplete)
    sees the query string without NUL characters, which PostgreSQL refuses
    (config.text)."""

    login_form = AdminLoginForm
    site_header = "Reel & Shelf administration"
    site_title = "Reel & Shelf admin"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def without_nul_view(request, *args, **kwargs):
            request.GET = without_nul(request.GET)
            return inner(request, *args, **kwargs)

        return without_nul_view

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        return _mark_throttled(response, form)
