"""Logging in, for the site and the admin: attempts are limited per user name
and client address (``LOGIN_THROTTLE``, default 5 failures per 15 minutes)
and per client address across all user names (``LOGIN_THROTTLE_ADDRESS``,
default 20 failures per 15 minutes).

Past either limit the form refuses even the right password until the window
ends, with "Too many failed attempts, try again in N minutes." and HTTP 429.
Counting per name *and* address means an attacker guessing one account cannot
lock its owner out from elsewhere; the per-address count stops one address
from trying every user name once each.

Each attempt is counted *before* its password is checked, by the one atomic
statement that also returns the count (``ratelimit.hit``), and only an attempt
that count allows is checked: 30 concurrent guesses at a limit of 5 get 5
checks, not as many as read the count before any was written. A successful
login then clears its name-and-address count and takes its own attempt back
from the address's, so the address count is of failures (plus attempts in
flight) and logging in to one's own account does not reset it.
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
ADDRESS_SCOPE = "login-failures-address"


def _take_back(counts, *, success: bool = False) -> None:
    """Uncount an attempt that was not a failed password; a success also
    clears the name-and-address failures before it."""
    for scope, ident, rate in counts:
        if success and scope == SCOPE:
            ratelimit.reset(scope, ident, rate)
        else:
            ratelimit.undo(scope, ident, rate)


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
        if not (username and password and self.request is not None):
            return super().clean()
        address = ratelimit.client_address(self.request)
        named = (
            (SCOPE, f"{username.strip().lower()}|{address}", "LOGIN_THROTTLE"),
            (ADDRESS_SCOPE, address, "LOGIN_THROTTLE_ADDRESS"),
        )
        counts = [
            (scope, ident, rate)
            for scope, ident, setting in named
            if (rate := ratelimit.rate_setting(setting))
        ]
        hits = [ratelimit.hit(scope, ident, rate) for scope, ident, rate in counts]
        refused = [hit for hit in hits if not hit.allowed]
        if refused:
            self.retry_after = max(hit.retry_after for hit in refused)
            minutes = math.ceil(self.retry_after / 60)
            raise ValidationError(
                "Too many failed attempts, try again in %(minutes)d minute%(plural)s.",
                code="throttled",
                params={"minutes": minutes, "plural": "" if minutes == 1 else "s"},
            )
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            if getattr(exc, "code", None) not in {"invalid_login", "inactive"}:
                _take_back(counts)  # not a password that failed
            raise
        _take_back(counts, success=True)
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
