"""Account self-service pages: sign up, password reset (throttled like
logins), and the API tokens page. Password change and the rest of the reset
flow are Django's own views with the site's templates
(templates/registration/)."""

import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView

from config.access import ratelimit
from config.access.forms import TOKEN_LIFETIMES, ApiTokenCreateForm, SignUpForm
from config.access.models import ApiToken, api_token_create

NEW_TOKEN_KEY = "new_api_token"  # noqa: S105 (a session key, not a secret)


def _throttled(request, response, form, hit: ratelimit.Hit, what: str):
    """Refuse a form past its rate limit: 429, Retry-After, and an error
    saying when to try again."""
    minutes = math.ceil(hit.retry_after / 60)
    form.add_error(
        None, f"Too many {what}, try again in {minutes} minute{'' if minutes == 1 else 's'}."
    )
    response = response(form)
    response.status_code = 429
    response["Retry-After"] = str(hit.retry_after)
    return response


def _first_refusal(*hits: ratelimit.Hit) -> ratelimit.Hit | None:
    refused = [hit for hit in hits if not hit.allowed]
    return max(refused, key=lambda hit: hit.retry_after) if refused else None


@method_decorator(never_cache, name="dispatch")
class SignUpView(FormView):
    """A new account, signed in at once; the session (and the cart in it)
    carries over. ``SIGNUP_THROTTLE`` bounds sign-ups per client address."""

    template_name = "registration/signup.html"
    form_class = SignUpForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next"] = self._next()
        return context

    def _next(self) -> str:
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return target
        return ""

    def form_valid(self, form):
        rate = ratelimit.rate_setting("SIGNUP_THROTTLE")
        if rate:
            hit = ratelimit.hit("signup", ratelimit.client_address(self.request), rate)
            if not hit.allowed:
                return _throttled(self.request, self.form_invalid, form, hit, "sign-ups")
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(self.request, f"Welcome, {user.get_username()}: your account is ready.")
        return redirect(self._next() or reverse("catalog:profile"))


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset view with the HTML mail, throttled by
    ``PASSWORD_RESET_THROTTLE`` per client address and per email address
    (so no one can flood a mailbox from many addresses). The page answers the
    same whether or not an account has the address; the limit counts every
    request, so it reveals nothing either."""

    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"

    def form_valid(self, form):
        rate = ratelimit.rate_setting("PASSWORD_RESET_THROTTLE")
        if rate:
            email = form.cleaned_data["email"].strip().lower()
            address = ratelimit.client_address(self.request)
            refused = _first_refusal(
                ratelimit.hit("password-reset-address", address, rate),
                ratelimit.hit("password-reset-email", email, rate),
            )
            if refused:
                return _throttled(self.request, self.form_invalid, form, refused, "reset requests")
        return super().form_valid(form)


@method_decorator(never_cache, name="dispatch")
class ApiTokensView(LoginRequiredMixin, View):
    """The signed-in user's API tokens: name, creation, expiry, last use
    (recorded at most every few minutes, see ``tokens.LAST_USED_RESOLUTION``)
    and state; a form to create one, and a Revoke button on each.

    A new token is shown once: the POST that makes it keeps it in the
    session only until the redirected GET (POST-redirect-GET, so a reload
    makes no second token), which takes it out and shows it; the database
    keeps only its hash. ``TOKEN_CREATE_THROTTLE`` bounds tokens per user."""

    template_name = "access/api_tokens.html"

    def page(self, request, form, *, created=None, raw=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "tokens": ApiToken.objects.filter(user=request.user).order_by("-created", "-id"),
                "created": created,
                "raw_token": raw,
                "now": timezone.now(),
            },
            status=status,
        )

    def get(self, request):
        new = request.session.pop(NEW_TOKEN_KEY, None)
        created = raw = None
        if isinstance(new, dict):
            created = ApiToken.objects.filter(pk=new.get("id"), user=request.user).first()
            raw = new.get("raw") if created else None
        return self.page(request, ApiTokenCreateForm(), created=created, raw=raw)

    def post(self, request):
        form = ApiTokenCreateForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        rate = ratelimit.rate_setting("TOKEN_CREATE_THROTTLE")
        if rate:
            hit = ratelimit.hit("token-create", str(request.user.pk), rate)
            if not hit.allowed:
                return _throttled(request, lambda f: self.page(request, f), form, hit, "new tokens")
        lifetime = TOKEN_LIFETIMES[form.cleaned_data["lifetime"]]
        token, raw = api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=timezone.now() + lifetime if lifetime else None,
        )
        request.session[NEW_TOKEN_KEY] = {"id": token.pk, "raw": raw}
        return redirect("api-tokens")


@method_decorator(never_cache, name="dispatch")
class ApiTokenRevokeView(LoginRequiredMixin, View):
    """Revoke one of your tokens: from the next API request on, it is refused
    (tokens are looked up on every request; nothing caches them)."""

    def post(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        if token.revoked_at is None:
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            messages.success(request, f"Token “{token.name or token.prefix}” is revoked.")
        return redirect("api-tokens")
