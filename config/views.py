import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import requires_csrf_token

from config.errors import is_api, plain_page

logger = logging.getLogger(__name__)


async def healthz(request):
    """The process is alive and its event loop answers."""
    return JsonResponse({"status": "ok"})


def _ping_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # This runs on a worker thread of its own: hand the connection back to
        # the pool rather than leaving it with the thread.
        connection.close()


async def readyz(request):
    """200 when the database answers, 503 with a reason otherwise, within
    READYZ_TIMEOUT seconds even when the database hangs."""
    try:
        async with asyncio.timeout(settings.READYZ_TIMEOUT):
            # Not thread-sensitive: a hung connect must not hold up the shared
            # thread that serves other requests' database work.
            await sync_to_async(_ping_database, thread_sensitive=False)()
    except TimeoutError:
        return JsonResponse(
            {"status": "unavailable", "detail": "database did not answer in time"}, status=503
        )
    except Exception as exc:
        logger.warning("readyz: database unreachable: %s", exc.__class__.__name__)
        return JsonResponse(
            {"status": "unavailable", "detail": f"database unreachable ({exc.__class__.__name__})"},
            status=503,
        )
    return JsonResponse({"status": "ok"})


def home(request):
    return render(request, "home.html")


def robots_txt(request):
    return HttpResponse("User-agent: *\nDisallow: /admin/\n", content_type="text/plain")


@requires_csrf_token
def bad_request(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return HttpResponseBadRequest(
        "<!DOCTYPE html><title>Bad request</title><h1>Bad request</h1>", content_type="text/html"
    )


def server_error(request):
    if is_api(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return plain_page("500.html", 500)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: JSON under /api/, Django's page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": f"CSRF verification failed: {reason}"}, status=403)
    return django_csrf_failure(request, reason)
