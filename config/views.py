import asyncio
import functools
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


def _ping_database(alias: str = "default") -> None:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # This runs on a worker thread of its own: hand the connection back to
        # the pool rather than leaving it with the thread.
        connection.close()


async def _database_problem(alias: str) -> str | None:
    """None when ``alias`` answers within READYZ_TIMEOUT, else why not."""
    ping = _ping_database if alias == "default" else functools.partial(_ping_database, alias)
    try:
        async with asyncio.timeout(settings.READYZ_TIMEOUT):
            # Not thread-sensitive: a hung connect must not hold up the shared
            # thread that serves other requests' database work.
            await sync_to_async(ping, thread_sensitive=False)()
    except TimeoutError:
        return "did not answer in time"
    except Exception as exc:
        logger.warning("readyz: database %s unreachable: %s", alias, exc.__class__.__name__)
        return f"unreachable ({exc.__class__.__name__})"
    return None


async def readyz(request):
    """200 when the primary database answers, 503 with a reason otherwise,
    within READYZ_TIMEOUT seconds even when a database hangs. Every database
    is reported under ``databases``; a read replica that does not answer
    makes the status "degraded" but not 503: every app host shares the
    replicas, so taking hosts out of the load balancer would not help."""
    aliases = list(settings.DATABASES)
    answers = await asyncio.gather(*map(_database_problem, aliases))
    problems = dict(zip(aliases, answers, strict=True))
    databases = {alias: problem or "ok" for alias, problem in problems.items()}
    if problems["default"]:
        return JsonResponse(
            {
                "status": "unavailable",
                "detail": f"database {problems['default']}",
                "databases": databases,
            },
            status=503,
        )
    status = "degraded" if any(problems.values()) else "ok"
    return JsonResponse({"status": status, "databases": databases})


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
