"""Limits applied before any view: request sizes and API throttling."""

import logging

from django.conf import settings

from config.access import ratelimit, tokens
from config.errors import DATABASE_UNAVAILABLE, database_unavailable, error_response, is_api
from config.middleware import SyncAndAsyncMiddleware

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestLimitsMiddleware(SyncAndAsyncMiddleware):
    """Refuse oversized input before anything reads it: a query string longer
    than ``MAX_QUERY_STRING_LENGTH`` (414) and a declared body larger than
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413). Under ASGI the body limit is
    enforced earlier, before Django reads the body, by
    config.access.body_limits (same texts); this check remains for WSGI and
    the test client."""

    def check(self, request):
        if len(request.META.get("QUERY_STRING", "")) > settings.MAX_QUERY_STRING_LENGTH:
            return error_response(
                request,
                414,
                f"Query string too long: at most {settings.MAX_QUERY_STRING_LENGTH} characters.",
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "Invalid Content-Length header.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return error_response(request, 413, f"Request body too large: at most {limit} bytes.")
        return None

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.check(request) or self.get_response(request)

    async def __acall__(self, request):
        return self.check(request) or await self.get_response(request)


class ApiThrottleMiddleware(SyncAndAsyncMiddleware):
    """Rate limits on /api/ (config.access.ratelimit has the store and why it is not
    ninja's throttling), applied before any handler runs so no router needs
    to opt in:

    - a request with a valid bearer token counts against that token
      (``API_THROTTLE_TOKEN``) and, if it writes, also against the token's
      write limit (``API_THROTTLE_WRITE``);
    - any other request, reads and refused writes alike, counts against the
      client's address (``API_THROTTLE_ANON``). An invalid token is anonymous,
      so inventing tokens does not buy fresh limits.

    Over a limit: 429 ``{"detail": ...}`` with ``Retry-After`` in seconds.
    With the database down the request cannot be served anyway: 503 at once.

    Under ASGI on PostgreSQL a read (GET, HEAD, OPTIONS) is counted in the
    same round trip as its handler's first read, and refused after it ran
    (``ratelimit.ReadHit``): the check then costs no round trip of its own.
    Writes are always counted, and refused, before their handler.
    """

    @staticmethod
    def applies(request) -> bool:
        return is_api(request) and any(
            ratelimit.rate_setting(name)
            for name in ("API_THROTTLE_ANON", "API_THROTTLE_TOKEN", "API_THROTTLE_WRITE")
        )

    @staticmethod
    def buckets(request, api_token):
        if api_token is None:
            ident = ratelimit.client_address(request)
            buckets = [("anon", ident, ratelimit.rate_setting("API_THROTTLE_ANON"))]
        else:
            ident = str(api_token.pk)
            buckets = [("token", ident, ratelimit.rate_setting("API_THROTTLE_TOKEN"))]
            if request.method not in SAFE_METHODS:
                buckets.append(("write", ident, ratelimit.rate_setting("API_THROTTLE_WRITE")))
        return [(scope, ident, rate) for scope, ident, rate in buckets if rate is not None]

    @staticmethod
    def verdict(request, hits):
        refused = [hit for hit in hits if not hit.allowed]
        if not refused:
            return None
        retry_after = max(hit.retry_after for hit in refused)
        rate = min((hit.rate for hit in refused), key=lambda rate: rate.limit)
        return error_response(
            request,
            429,
            f"Too many requests: the limit is {rate}. Try again in {retry_after} seconds.",
            Retry_After=str(retry_after),
        )

    @staticmethod
    def failed(request, exc):
        if isinstance(exc, DATABASE_UNAVAILABLE):
            return database_unavailable(request, exc)
        logger.error("API throttle failed", exc_info=exc)
        return error_response(request, 500, "Internal server error.")

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if not self.applies(request):
            return self.get_response(request)
        try:
            api_token = tokens.resolve_token_sync(request, tokens.bearer_token(request))
            hits = [
                ratelimit.hit(scope, ident, rate)
                for scope, ident, rate in self.buckets(request, api_token)
            ]
        except Exception as exc:
            return self.failed(request, exc)
        return self.verdict(request, hits) or self.get_response(request)

    @staticmethod
    def read_hit(request, buckets) -> ratelimit.ReadHit | None:
        """A read's one hit, to be counted in the handler's own round trip."""
        if request.method in SAFE_METHODS and len(buckets) == 1:
            return ratelimit.count_along(*buckets[0])
        return None

    async def __acall__(self, request):
        if not self.applies(request):
            return await self.get_response(request)
        try:
            api_token = await tokens.resolve_token(request, tokens.bearer_token(request))
            buckets = self.buckets(request, api_token)
            read_hit = self.read_hit(request, buckets)
            if read_hit is None:
                hits = [await ratelimit.ahit(scope, ident, rate) for scope, ident, rate in buckets]
        except Exception as exc:
            return self.failed(request, exc)
        if read_hit is None:
            return self.verdict(request, hits) or await self.get_response(request)
        with read_hit.reading():
            response = await self.get_response(request)
        try:
            hits = [await read_hit.hit()]
        except Exception as exc:
            return self.failed(request, exc)
        return self.verdict(request, hits) or response
