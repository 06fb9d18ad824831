"""The one NinjaAPI of the project: app routers, JSON rendering, error shape.

Every error under /api/ leaves as JSON ``{"detail": ...}``; never an HTML page
or a traceback, whether debug is on or not.
"""

import logging

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from ninja import NinjaAPI
from ninja.renderers import BaseRenderer

logger = logging.getLogger(__name__)

_django_encoder = DjangoJSONEncoder()


class ORJSONRenderer(BaseRenderer):
    """orjson is several times faster than the stdlib encoder; types it does
    not know (Decimal, timedelta) fall back to Django's encoder so the output
    matches what DjangoJSONEncoder would write."""

    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=_django_encoder.default)


api = NinjaAPI(
    title="Movies and catalog API",
    version="1.0.0",
    description="Async JSON API. Reads are public; writes need `Authorization: Bearer <token>`.",
    renderer=ORJSONRenderer(),
    urls_namespace="api",
)


@api.exception_handler(Exception)
def on_unhandled_exception(request, exc):
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "Internal server error."}, status=500)


def api_not_found(request, unmatched_path=""):
    """Unknown paths under /api/ get JSON, not Django's HTML 404 page."""
    return JsonResponse({"detail": f"Not Found: no API endpoint at {request.path}"}, status=404)


def _mount_routers():
    from catalog.api import router as catalog_router
    from movies.api import router as movies_router

    api.add_router("/", movies_router)
    api.add_router("/", catalog_router)


_mount_routers()
