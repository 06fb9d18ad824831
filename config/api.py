"""The one NinjaAPI of the project: app routers, JSON rendering, error shape.

Every error under /api/ leaves as JSON ``{"detail": ...}``; never an HTML page
or a traceback, whether debug is on or not.
"""

import logging

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.operation import Operation, PathView
from ninja.params.models import BodyModel, QueryModel
from ninja.renderers import BaseRenderer

from config.caching.conditional import conditional_reads, not_cacheable
from config.errors import DATABASE_UNAVAILABLE, database_unavailable
from config.runtime import responses

logger = logging.getLogger(__name__)

_django_encoder = DjangoJSONEncoder()


class ORJSONRenderer(BaseRenderer):
    """orjson is several times faster than the stdlib encoder; types it does
    not know (Decimal, timedelta) fall back to Django's encoder so the output
    matches what DjangoJSONEncoder would write."""

    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=_django_encoder.default)


_ERROR_SCHEMA = {
    "title": "ErrorDetail",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR_SCHEMA = {
    "title": "ValidationErrorDetail",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
    "required": ["detail"],
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorDetail"}
_VALIDATION_REF = {"$ref": "#/components/schemas/ValidationErrorDetail"}


def _error_response(description: str, ref: dict = _ERROR_REF) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


# Answers any operation can give, whatever its router declares: they come from
# the middleware and the handlers below, not from the operation itself.
_EVERY_OPERATION = {
    413: "Request body, or number of fields, too large",
    414: "Query string too long",
    429: "Too many requests: see the Retry-After header (seconds)",
    503: "Database unavailable: retry later",
}


_ETAG_HEADER = {
    "description": "The page's entity tag: send it back in If-None-Match to get a 304 "
    "while nothing it shows has changed.",
    "schema": {"type": "string", "pattern": '^"[0-9a-f]+"$'},
}
_PUBLIC_CACHE_CONTROL = {
    "description": "public, max-age=API_CACHE_MAX_AGE for a public read; "
    "private, no-store for a read with a token.",
    "schema": {"type": "string"},
}
_NOT_MODIFIED = {
    "description": "Not Modified: If-None-Match names the current ETag (or is *); no body.",
    "headers": {
        "ETag": {**_ETAG_HEADER, "required": True},
        "Cache-Control": {**_PUBLIC_CACHE_CONTROL, "required": True},
    },
}


def _document_conditional_get(operation: dict) -> None:
    """A public GET (the app routers' reads, config.caching.conditional):
    its 200 may carry an ETag, and it may answer 304."""
    responses = operation["responses"]
    ok = responses.get(200) or responses.get("200")
    if ok is not None:
        ok.setdefault("headers", {}).update(
            {"ETag": _ETAG_HEADER, "Cache-Control": _PUBLIC_CACHE_CONTROL}
        )
    responses.setdefault(304, _NOT_MODIFIED)


def _takes_json_body(operation: Operation) -> bool:
    return any(issubclass(model, BodyModel) for model in operation.signature.models)


def _is_json(request: HttpRequest) -> bool:
    content_type = request.content_type or ""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _unsupported_media_type(request: HttpRequest) -> HttpResponse:
    shown = request.content_type or "none"
    return JsonResponse(
        {"detail": f"Unsupported Content-Type ({shown}): send the body as application/json."},
        status=415,
    )


def _query_names(operation: Operation) -> frozenset[str]:
    """The query parameters ``operation`` takes (filters and pagination
    included), computed once per operation."""
    names = getattr(operation, "_project_query_names", None)
    if names is None:
        names = frozenset(
            name
            for model in operation.signature.models
            if issubclass(model, QueryModel)
            for name in (
                getattr(model, "__ninja_flatten_map__", None)
                or {field.alias or key: key for key, field in model.model_fields.items()}
            )
        )
        operation._project_query_names = names  # type: ignore[attr-defined]
    return names


def _unknown_query_parameters(names: list[str]) -> HttpResponse:
    return JsonResponse(
        {
            "detail": [
                {
                    "type": "unknown_parameter",
                    "loc": ["query", name],
                    "msg": "Unknown query parameter: this operation does not take it.",
                }
                for name in names
            ]
        },
        status=422,
    )


class ProjectPathView(PathView):
    """ninja's view of one path, with the HTTP rules the rest of /api/ keeps:

    - ``HEAD`` wherever ``GET`` works: the GET operation runs, the body is
      dropped and its length kept in ``Content-Length``;
    - a method the path does not have is a JSON 405 with ``Allow``;
    - an operation that takes a JSON body refuses any other Content-Type
      (or none) with a JSON 415, before reading the body;
    - a query parameter the operation does not take is a 422 naming it, as
      an unknown field of a JSON body is: a misspelt filter (``?yaer=1999``)
      would otherwise answer, unfiltered, as if it had been applied;
    - these refusals, like every answer but a public read's, are
      ``private, no-store`` (config.caching.conditional).
    """

    def _find_operation(self, request: HttpRequest) -> Operation | None:
        method = "GET" if request.method == "HEAD" else request.method
        for operation in self.operations:
            if method in operation.methods:
                return operation
        return None

    def _not_allowed(self) -> HttpResponse:
        allowed = {method for operation in self.operations for method in operation.methods}
        if "GET" in allowed:
            allowed.add("HEAD")
        listed = ", ".join(sorted(allowed))
        response = JsonResponse({"detail": f"Method not allowed: use {listed}."}, status=405)
        response["Allow"] = listed
        return not_cacheable(response)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        operation = self._find_operation(request)
        if operation is None:
            return None
        if _takes_json_body(operation) and not _is_json(request):
            return _unsupported_media_type(request)
        if not request.META.get("QUERY_STRING"):
            return None  # no names to check, and no QueryDict to build for it
        try:
            names = list(request.GET)
        except TooManyFieldsSent:
            return None  # the operation's own parsing answers it: 413
        unknown = [name for name in names if name not in _query_names(operation)]
        if unknown:
            return _unknown_query_parameters(unknown)
        return None

    @staticmethod
    def _head(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.method == "HEAD" and not response.streaming:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    def _sync_view(self, request, *args, **kwargs):
        refusal = self._refusal(request)
        if refusal is not None:
            return not_cacheable(refusal)
        return self._head(request, super()._sync_view(request, *args, **kwargs))

    async def _async_view(self, request, *args, **kwargs):
        refusal = self._refusal(request)
        if refusal is not None:
            return not_cacheable(refusal)
        return self._head(request, await super()._async_view(request, *args, **kwargs))


class ProjectNinjaAPI(NinjaAPI):
    def _get_bound_routers(self):
        """The routers' path views as ProjectPathView (ninja builds plain
        ones; this is the one place they can be swapped before the URLs are
        made from them), and their operations with the runtime's response
        path (config/runtime/responses.py)."""
        bound_routers = super()._get_bound_routers()
        for bound_router in bound_routers:
            for path_view in bound_router.path_operations.values():
                if type(path_view) is PathView:
                    path_view.__class__ = ProjectPathView
                if settings.RUNTIME_RESPONSES:
                    for operation in path_view.operations:
                        responses.install(operation)
        return bound_routers

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """The schema declares every answer an operation can really give:
        304 and the ETag for public reads, 401 where a token is required,
        422 where there is input to validate, 400 where a body may not
        parse, and the project-wide ones above."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorDetail", _ERROR_SCHEMA)
        components.setdefault("ValidationErrorDetail", _VALIDATION_ERROR_SCHEMA)
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                if method == "get" and not operation.get("security"):
                    _document_conditional_get(operation)
                responses = operation["responses"]
                extra = {code: _error_response(text) for code, text in _EVERY_OPERATION.items()}
                if operation.get("security"):
                    extra[401] = _error_response("Missing, invalid, revoked or expired token")
                if operation.get("parameters") or operation.get("requestBody"):
                    extra[422] = _error_response("Invalid input", _VALIDATION_REF)
                if operation.get("requestBody"):
                    extra[400] = _error_response("Malformed request body (not JSON)")
                    extra[415] = _error_response("Content-Type is not application/json")
                for code, response in extra.items():
                    if code not in responses and str(code) not in responses:
                        responses[code] = response
        return schema


api = ProjectNinjaAPI(
    title="Movies and catalog API",
    version="1.0.0",
    description="Async JSON API. Reads are public; writes need `Authorization: Bearer <token>`.",
    renderer=ORJSONRenderer(),
    urls_namespace="api",
)


def on_database_unavailable(request, exc):
    return database_unavailable(request, exc)


for _exc_class in DATABASE_UNAVAILABLE:
    api.add_exception_handler(_exc_class, on_database_unavailable)


def _too_large_detail(exc: Exception) -> str:
    if isinstance(exc, RequestDataTooBig):
        return f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    return f"Too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."


@api.exception_handler(RequestDataTooBig)
@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def on_too_large(request, exc):
    return api.create_response(request, {"detail": _too_large_detail(exc)}, status=413)


@api.exception_handler(Exception)
def on_unhandled_exception(request, exc):
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "Internal server error."}, status=500)


@csrf_exempt
def api_not_found(request, unmatched_path=""):
    """Unknown paths under /api/ get JSON, not Django's HTML 404 page, for
    every method (CSRF exempt: it changes nothing, and a write to a typo
    should be told 404, not be shown Django's HTML CSRF page)."""
    return JsonResponse({"detail": f"Not Found: no API endpoint at {request.path}"}, status=404)


def _mount_routers():
    from catalog.api import router as catalog_router
    from movies.api import router as movies_router

    # ETag, 304 and Cache-Control for public reads; no-store for the rest.
    movies_router.add_decorator(conditional_reads("movies"), mode="view")
    catalog_router.add_decorator(conditional_reads("catalog"), mode="view")
    api.add_router("/", movies_router)
    api.add_router("/", catalog_router)


_mount_routers()
