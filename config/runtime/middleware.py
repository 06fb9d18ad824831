"""Django's standard middleware, without a thread hop per request under ASGI.

Django's ``MiddlewareMixin`` is "async-capable", but in async mode it runs
every ``process_request`` and ``process_response`` hook through
``sync_to_async``, and the handler wraps every sync ``process_view`` the same
way: with the usual stack that is a dozen or more trips to a worker thread
for each request, more than the rest of a small JSON response costs
(docs/performance.md).

The hooks of these middleware do no I/O (they read headers and cookies and
set attributes), with two exceptions that can touch the database: saving the
session, and loading messages kept in the session. The subclasses below call
the hooks directly on the event loop and take the thread only when those can
happen: when the session was modified (or is saved on every request), or new
messages were added. Sync views and
everything they do still run on the request's thread, as before.

``SecurityMiddleware`` also works out at start-up the headers it adds to
every response (see its docstring).

This relies on the default configuration (CSRF tokens in a cookie, not the
session: ``CSRF_USE_SESSIONS = False``); config/settings.py uses these
classes in MIDDLEWARE.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin

Hook = Callable[..., Any]


class NoThreadHopMixin(MiddlewareMixin):
    """``MiddlewareMixin``'s async path with the hooks called on the loop."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        sync_process_view: Hook | None = getattr(self, "process_view", None)
        if self.async_mode and sync_process_view is not None:
            # The handler adapts a sync process_view with sync_to_async; a
            # coroutine function is called as it is.
            async def process_view(request: HttpRequest, *args: Any) -> Any:
                return sync_process_view(request, *args)

            # An instance attribute, as Django's own adaptation would set.
            setattr(self, "process_view", process_view)  # noqa: B010

    def response_needs_thread(self, request: HttpRequest) -> bool:
        """Whether process_response may do I/O for this request."""
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        process_request: Hook | None = getattr(self, "process_request", None)
        process_response: Hook | None = getattr(self, "process_response", None)
        response = process_request(request) if process_request is not None else None
        # In async mode get_response is a coroutine function.
        response = response or await cast(Awaitable[HttpResponseBase], self.get_response(request))
        if process_response is not None:
            if self.response_needs_thread(request):
                response = await sync_to_async(process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = process_response(request, response)
        return response


class _Probe:
    """A request that is secure or not, as much as ``process_response`` asks."""

    def __init__(self, secure: bool) -> None:
        self.secure = secure

    def is_secure(self) -> bool:
        return self.secure


class SecurityMiddleware(NoThreadHopMixin, security.SecurityMiddleware):
    """Django's, with the headers its ``process_response`` adds worked out
    once, at start-up, when Django reads the settings they come from.

    Every one of them is set only where the response has none of that name,
    and only ``Strict-Transport-Security`` depends on the request (whether it
    is secure). So Django's own ``process_response``, run on a bare response
    for a plain and for a secure request, gives the entries it would store
    for any request of each kind; each response then gets the missing ones
    put in its header store as they are, rather than checked and converted
    again one by one."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self._added = {secure: self._headers_added(secure) for secure in (False, True)}

    def _headers_added(self, secure: bool) -> tuple[tuple[str, tuple[str, str]], ...]:
        probe = HttpResponse()
        bare = dict(probe.headers._store)
        super().process_response(cast(HttpRequest, _Probe(secure)), probe)
        return tuple(item for item in probe.headers._store.items() if item[0] not in bare)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # Django asks whether the request is secure only when HSTS is on.
        added = self._added[bool(self.sts_seconds) and request.is_secure()]
        store: dict[str, tuple[str, str]] = response.headers._store
        for lowered, header in added:
            if lowered not in store:
                store[lowered] = header
        return response


class CommonMiddleware(NoThreadHopMixin, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(NoThreadHopMixin, csrf.CsrfViewMiddleware):
    pass


class AuthenticationMiddleware(NoThreadHopMixin, auth_middleware.AuthenticationMiddleware):
    pass


class XFrameOptionsMiddleware(NoThreadHopMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(NoThreadHopMixin, sessions_middleware.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest) -> bool:
        # Only a save writes: a session that was read is already loaded (by
        # whoever read it, on the request's thread), and an untouched one is
        # never loaded.
        session = getattr(request, "session", None)
        return session is not None and (
            session.modified or (session.accessed and settings.SESSION_SAVE_EVERY_REQUEST)
        )


class MessageMiddleware(NoThreadHopMixin, messages_middleware.MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest) -> bool:
        # New messages may have to be merged with stored ones, which loads
        # the session; messages that were only read were loaded already.
        storage = getattr(request, "_messages", None)
        return storage is not None and storage.added_new
