"""Cross-cutting middleware. Each one is sync-and-async: under ASGI it runs on
the event loop without the thread hop a sync-only (or MiddlewareMixin)
middleware costs on every request."""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpResponse, JsonResponse

from config import auth, ratelimit, views
from config.errors import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SyncAndAsyncMiddleware:
    """Base for middleware with a plain ``process_response(request, response)``
    hook that does no I/O, so it can run as is on either path."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.process_response(request, self.get_response(request))

    async def __acall__(self, request):
        return self.process_response(request, await self.get_response(request))

    def process_response(self, request, response):
        return response


class ContentSecurityPolicyMiddleware(SyncAndAsyncMiddleware):
    """``Content-Security-Policy`` (``CONTENT_SECURITY_POLICY``) on HTML
    responses that do not set their own. Django 5.2 has no built-in CSP; JSON
    responses do not need one, as browsers do not render them."""

    def process_response(self, request, response):
        policy = settings.CONTENT_SECURITY_POLICY
        content_type = response.get("Content-Type", "")
        if (
            policy
            and content_type.startswith("text/html")
            and "Content-Security-Policy" not in response
        ):
            response["Content-Security-Policy"] = policy
        return response


def _is_api(request) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def _error(request, status: int, detail: str, **headers) -> HttpResponse:
    """JSON ``{"detail": ...}`` under /api/, plain text elsewhere."""
    if _is_api(request):
        response = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class RequestLimitsMiddleware(SyncAndAsyncMiddleware):
    """Refuse oversized input before anything reads it: a query string longer
    than ``MAX_QUERY_STRING_LENGTH`` (414) and a declared body larger than
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413). Bodies sent without a length are
    bounded when read (config.api maps Django's ``RequestDataTooBig`` to 413)."""

    def check(self, request):
        if len(request.META.get("QUERY_STRING", "")) > settings.MAX_QUERY_STRING_LENGTH:
            return _error(
                request,
                414,
                f"Query string too long: at most {settings.MAX_QUERY_STRING_LENGTH} characters.",
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(request, 400, "Invalid Content-Length header.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return _error(request, 413, f"Request body too large: at most {limit} bytes.")
        return None

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.check(request) or self.get_response(request)

    async def __acall__(self, request):
        return self.check(request) or await self.get_response(request)


class ApiThrottleMiddleware(SyncAndAsyncMiddleware):
    """Rate limits on /api/ (config.ratelimit has the store and why it is not
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
    """

    @staticmethod
    def applies(request) -> bool:
        return _is_api(request) and any(
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
        return _error(
            request,
            429,
            f"Too many requests: the limit is {rate}. Try again in {retry_after} seconds.",
            Retry_After=str(retry_after),
        )

    @staticmethod
    def failed(request, exc):
        if isinstance(exc, DATABASE_UNAVAILABLE):
            logger.warning("API throttle: database unavailable (%s)", exc.__class__.__name__)
            return _error(request, 503, "database unavailable", Retry_After="5")
        logger.error("API throttle failed", exc_info=exc)
        return _error(request, 500, "Internal server error.")

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if not self.applies(request):
            return self.get_response(request)
        try:
            api_token = auth.resolve_token_sync(request, auth.bearer_token(request))
            hits = [
                ratelimit.hit(scope, ident, rate)
                for scope, ident, rate in self.buckets(request, api_token)
            ]
        except Exception as exc:
            return self.failed(request, exc)
        return self.verdict(request, hits) or self.get_response(request)

    async def __acall__(self, request):
        if not self.applies(request):
            return await self.get_response(request)
        try:
            api_token = await auth.resolve_token(request, auth.bearer_token(request))
            hits = [
                await ratelimit.ahit(scope, ident, rate)
                for scope, ident, rate in self.buckets(request, api_token)
            ]
        except Exception as exc:
            return self.failed(request, exc)
        return self.verdict(request, hits) or await self.get_response(request)


class DatabaseUnavailableMiddleware(SyncAndAsyncMiddleware):
    """A page or API call that fails because the database cannot be reached
    answers 503 (a plain page, or JSON under /api/) with ``Retry-After``,
    rather than a 500 that looks like a bug. Other errors go on to the 500
    handler."""

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            logger.warning(
                "Database unavailable in %s %s: %s",
                request.method,
                request.path,
                exception.__class__.__name__,
            )
            return views.database_unavailable(request)
        return None
