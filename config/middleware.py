"""Cross-cutting middleware. Each one is sync-and-async: under ASGI it runs on
the event loop without the thread hop a sync-only (or MiddlewareMixin)
middleware costs on every request."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

from config import errors


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


# Django's own pages (the debug 404 and 500, the CSRF failure) carry this
# tag, and inline style and script that the site's policy refuses.
DJANGO_PAGE_MARKER = b'<meta name="robots" content="NONE,NOARCHIVE">'


class ContentSecurityPolicyMiddleware(SyncAndAsyncMiddleware):
    """``Content-Security-Policy`` (``CONTENT_SECURITY_POLICY``) on HTML
    responses that do not set their own. Django 5.2 has no built-in CSP; JSON
    responses do not need one, as browsers do not render them.

    With ``DEBUG`` on, Django's debug pages get ``'unsafe-inline'`` styles and
    scripts so that they are legible; with it off no response ever does."""

    def process_response(self, request, response):
        policy = settings.CONTENT_SECURITY_POLICY
        content_type = response.get("Content-Type", "")
        if (
            policy
            and content_type.startswith("text/html")
            and "Content-Security-Policy" not in response
        ):
            if settings.DEBUG and _is_django_debug_page(response):
                policy = _with_inline(policy)
            response["Content-Security-Policy"] = policy
        return response


def _is_django_debug_page(response) -> bool:
    return (
        response.status_code >= 400
        and not response.streaming
        and DJANGO_PAGE_MARKER in response.content[:1024]
    )


def _with_inline(policy: str) -> str:
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    names = {d.split()[0] for d in directives}
    for name in ("style-src", "script-src"):
        if name not in names:
            directives.append(f"{name} 'self'")
    return "; ".join(
        f"{d} 'unsafe-inline'" if d.split()[0] in {"style-src", "script-src"} else d
        for d in directives
    )


class DatabaseUnavailableMiddleware(SyncAndAsyncMiddleware):
    """A page or API call that fails because the database cannot be reached
    answers 503 (a plain page, or JSON under /api/) with ``Retry-After``,
    rather than a 500 that looks like a bug. Other errors go on to the 500
    handler."""

    def process_exception(self, request, exception):
        if isinstance(exception, errors.DATABASE_UNAVAILABLE):
            return errors.database_unavailable(request, exception)
        return None
