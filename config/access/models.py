import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.access.token_format import TOKEN_MARKER

TOKEN_PREFIX_LENGTH = 8


def hash_token(raw_token: str) -> str:
    """SHA-256 of the token. Tokens are 256 random bits, so a fast hash is
    enough: there is nothing to brute-force as there is with passwords."""
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for the API. Only its hash is stored; the token itself
    is shown once, when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=TOKEN_PREFIX_LENGTH, help_text="First characters, to recognise a token."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self):
        return f"{TOKEN_MARKER}{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


def api_token_create(*, user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the raw token, which
    is not stored anywhere and cannot be recovered later."""
    raw = TOKEN_MARKER + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[len(TOKEN_MARKER) :][:TOKEN_PREFIX_LENGTH],
        token_hash=hash_token(raw),
        expires_at=expires_at,
    )
    return token, raw


class RateCounter(models.Model):
    """One fixed-window counter of the rate limiter (config.access.ratelimit): how
    many hits ``key`` (scope, identity and window start) has had. Rows are
    incremented with one atomic upsert, so concurrent requests in any number
    of processes never lose a hit; expired rows are purged as new ones come."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.BigIntegerField(db_index=True, help_text="Unix time the window ends.")

    class Meta:
        verbose_name = "rate counter"

    def __str__(self):
        return f"{self.key}: {self.count}"
