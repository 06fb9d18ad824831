"""Bearer-token authentication for the API, shared by every app's router."""

from datetime import timedelta

from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer

from config.models import ApiToken, hash_token

# Record a token's last use at most this often, so reads do not turn into a
# write per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class TokenAuth(HttpBearer):
    async def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        api_token = (
            await ApiToken.objects.usable()
            .select_related("user")
            .filter(token_hash=hash_token(token))
            .afirst()
        )
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            await ApiToken.objects.filter(pk=api_token.pk).aupdate(last_used_at=now)
        request.user = api_token.user
        return api_token.user


token_auth = TokenAuth()


async def require_perm(request, perm: str) -> None:
    """403 unless the authenticated user holds ``perm`` (e.g. "movies.add_movie")."""
    if not await request.auth.ahas_perm(perm):
        raise HttpError(403, f"Your token's user lacks the permission {perm!r}.")
