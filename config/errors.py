"""Error answers shared by the API, the middleware and the error views: JSON
``{"detail": ...}`` under /api/, plain pages elsewhere."""

import logging

import psycopg
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

# Exceptions that mean "the database cannot be reached right now" rather than
# "this code is wrong": they become 503s, not 500s. psycopg_pool.PoolTimeout
# (no free connection within DB_POOL_TIMEOUT) is a psycopg.OperationalError;
# Django wraps driver errors raised through its connection in
# django.db.OperationalError, the native async pool does not.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)

# Seconds a client is asked to wait before retrying after a 503.
RETRY_AFTER_SECONDS = "5"


def is_api(request: HttpRequest) -> bool:
    return request.path_info == "/api" or request.path_info.startswith("/api/")


def error_response(request: HttpRequest, status: int, detail: str, **headers: str) -> HttpResponse:
    """JSON ``{"detail": ...}`` under /api/, plain text elsewhere; header
    names are given with underscores (``Retry_After``)."""
    if is_api(request):
        response: HttpResponse = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def plain_page(template_name: str, status: int) -> HttpResponse:
    """A standalone error page. No request context: an error page must not
    need the database (the session, the user) that may be the reason for the
    error."""
    return HttpResponse(loader.get_template(template_name).render(), status=status)


def database_unavailable(request: HttpRequest, exc: BaseException | None = None) -> HttpResponse:
    """503 with ``Retry-After``: JSON under /api/, the 503 page elsewhere."""
    if exc is not None:
        logger.warning(
            "Database unavailable in %s %s: %s", request.method, request.path, type(exc).__name__
        )
    if is_api(request):
        response: HttpResponse = JsonResponse({"detail": "database unavailable"}, status=503)
    else:
        response = plain_page("503.html", 503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response
