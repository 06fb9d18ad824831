"""Bearer-token authentication for the API, shared by every app's router."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer

from config.access.models import ApiToken, hash_token

# Record a token's last use at most this often, so reads do not turn into a
# write per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)
MAX_TOKEN_LENGTH = 200


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, parsed as
    django-ninja's ``HttpBearer`` does; None without one. (From ``META``:
    ``request.headers`` would copy every header for this one.)"""
    value = request.META.get("HTTP_AUTHORIZATION")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _lookup(request, raw: str | None) -> QuerySet[ApiToken] | None:
    """The query that resolves ``raw`` for this request, or None when there
    is nothing to ask: the request already holds its answer, or ``raw``
    (missing, or longer than any token) cannot be a token, which is then
    stored as the answer."""
    if hasattr(request, "_api_token"):
        return None
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        request._api_token = None
        return None
    return ApiToken.objects.usable().select_related("user").filter(token_hash=hash_token(raw))


async def resolve_token(request, raw: str | None) -> ApiToken | None:
    """The usable token row for ``raw``, looked up once per request (the
    throttling middleware and the auth class both ask)."""
    query = _lookup(request, raw)
    if query is not None:
        request._api_token = await query.afirst()
    return request._api_token


def resolve_token_sync(request, raw: str | None) -> ApiToken | None:
    """``resolve_token`` for sync code (the middleware's sync path)."""
    query = _lookup(request, raw)
    if query is not None:
        request._api_token = query.first()
    return request._api_token


class TokenAuth(HttpBearer):
    async def authenticate(self, request, token: str):
        api_token = await resolve_token(request, token)
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            await ApiToken.objects.filter(pk=api_token.pk).aupdate(last_used_at=now)
            api_token.last_used_at = now
        request.user = api_token.user
        return api_token.user


token_auth = TokenAuth()


async def require_perm(request, perm: str) -> None:
    """403 unless the authenticated user holds ``perm`` (e.g. "movies.add_movie")."""
    if not await request.auth.ahas_perm(perm):
        raise HttpError(403, f"Your token's user lacks the permission {perm!r}.")
