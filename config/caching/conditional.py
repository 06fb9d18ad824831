"""Conditional GETs for the API's public reads: ETag, If-None-Match, 304.

A page's tag is a keyed hash of its address (path and query string) and of
the version stamps of its app's tables (``versions_of``): one small query,
whatever the page shows, so a 304 is decided without reading the page's
rows. Any committed change to any of those tables (a renamed director, a
category, a genre added to a movie) changes the tag of every page of the app.

The stamps are read before the handler reads its rows: a write committed in
between makes the body newer than its tag, never older, and the next request
gets a new tag.
"""

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from functools import cache, wraps
from typing import Any, TypeVar

import orjson
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.crypto import salted_hmac
from django.utils.http import parse_etags

from config.caching.models import TableStamp
from config.caching.triggers import tracked_tables
from config.runtime.native_db import evaluate

NOT_CACHEABLE = "private, no-store"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Settings that change what the same rows render as: part of every tag, so a
# deploy that changes one does not leave clients with the old bodies.
BODY_SETTINGS = ("TAX_RATE", "CURRENCY_CODE", "CURRENCY_SYMBOL", "API_PAGE_SIZE")

Run = Callable[..., Awaitable[HttpResponseBase]]
R = TypeVar("R", bound=HttpResponseBase)


async def versions_of(app_label: str) -> tuple[int, ...]:
    """The version of ``app_label``'s tables: their stamps' ids, in one query
    (through ``evaluate``, so on PostgreSQL in one round trip from the loop)."""
    stamps = TableStamp.objects.filter(table_name__in=tracked_tables(app_label)).values("id")
    (rows,), _ = await evaluate(stamps)
    return tuple(sorted(row["id"] for row in rows))


def public_cache_control() -> str:
    return f"public, max-age={settings.API_CACHE_MAX_AGE}"


@cache
def _deploy_fingerprint(api: Any) -> str:
    """What, besides the rows, decides a body: the API's schema (fields,
    version) and the settings above. Computed once per process."""
    schema = orjson.dumps(
        api.get_openapi_schema(),
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    body_settings = repr([str(getattr(settings, name, None)) for name in BODY_SETTINGS])
    return hashlib.sha256(schema + body_settings.encode()).hexdigest()


def etag_for(request: HttpRequest, versions: tuple[int, ...], fingerprint: str = "") -> str:
    """A strong tag. Keyed with SECRET_KEY, so a tag says nothing of the
    stamps (such as how many writes there were); every host shares the key,
    so every host gives the same tag for the same page and data."""
    message = "\n".join(
        [fingerprint, request.path, request.META.get("QUERY_STRING", ""), repr(versions)]
    )
    digest = salted_hmac("config.caching.etag", message, algorithm="sha256").hexdigest()
    return f'"{digest[:32]}"'


def if_none_match(request: HttpRequest) -> list[str] | None:
    """The tags of If-None-Match (RFC 9110 13.1.2), weak ones included, or
    ``["*"]``; None without the header. Unparsable members are ignored."""
    value = request.headers.get("If-None-Match")
    if value is None:
        return None
    return parse_etags(value)


def matches(tags: list[str], etag: str) -> bool:
    """Weak comparison, as If-None-Match uses: W/"x" matches "x"."""
    return any(tag.removeprefix("W/") == etag for tag in tags)


def _operation_of(run: Run) -> Any:
    """The ninja Operation whose bound ``run`` this is (view-mode decorators
    are given ``operation.run``), through any decorator that kept __wrapped__."""
    return getattr(inspect.unwrap(run), "__self__", None)


def not_cacheable(response: R) -> R:
    """For every answer that is not a public read's 200 or 304."""
    response["Cache-Control"] = NOT_CACHEABLE
    patch_vary_headers(response, ["Authorization"])
    return response


def _cacheable(response: HttpResponseBase, etag: str) -> HttpResponseBase:
    response["ETag"] = etag
    response["Cache-Control"] = public_cache_control()
    patch_vary_headers(response, ["Authorization"])
    return response


def conditional_reads(app_label: str) -> Callable[[Run], Run]:
    """A ninja view-mode decorator (``router.add_decorator(..., mode="view")``)
    for the operations of the app ``app_label``:

    - GET and HEAD of an operation without auth, sent without an
      Authorization header: a 200 carries an ETag and ``Cache-Control:
      public, max-age=API_CACHE_MAX_AGE``; an If-None-Match that names the
      current tag is a 304 with those headers, and the handler does not run.
      ``If-None-Match: *`` runs it, and turns its 200 into a 304.
    - Everything else (a token, a write, an error): ``private, no-store``.

    Every answer has ``Vary: Authorization``."""

    def decorate(run: Run) -> Run:
        if not iscoroutinefunction(run):
            raise ImproperlyConfigured(
                f"conditional_reads({app_label!r}) is for async operations, not {run!r}."
            )
        operation = _operation_of(run)
        # Not knowing the operation, assume it may need auth: never cached.
        public = operation is not None and not operation.auth_callbacks

        @wraps(run)
        async def conditional_run(request: HttpRequest, *args: Any, **kwargs: Any):
            if (
                not public
                or request.method not in SAFE_METHODS
                or "Authorization" in request.headers
            ):
                return not_cacheable(await run(request, *args, **kwargs))
            try:
                versions = await versions_of(app_label)
            except Exception as exc:
                # The API's own answer (a 503 for a database that is down).
                return not_cacheable(operation.api.on_exception(request, exc))
            etag = etag_for(request, versions, _deploy_fingerprint(operation.api))
            tags = if_none_match(request)
            if tags and tags != ["*"] and matches(tags, etag):
                return _cacheable(HttpResponseNotModified(), etag)
            response = await run(request, *args, **kwargs)
            if response.status_code != 200:
                return not_cacheable(response)
            if tags == ["*"]:
                # A current representation exists: the condition is false.
                return _cacheable(HttpResponseNotModified(), etag)
            return _cacheable(response, etag)

        return conditional_run

    return decorate
