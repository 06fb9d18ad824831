"""Conditional GETs for the API's public reads: ETag, If-None-Match, 304.

A page's tag is a keyed hash of its address (path and query string) and of
the version stamps of its app's tables (``versions_of``): one small query,
whatever the page shows, so a 304 is decided without reading the page's
rows. Any committed change to any of those tables (a renamed director, a
category, a genre added to a movie) changes the tag of every page of the app.

The stamps are read before the handler reads its rows: a write committed in
between makes the body newer than its tag, never older, and the next request
gets a new tag. A request without If-None-Match has them read along with the
handler's own ``evaluate`` call (``read_ahead``: first, in the same round
trip); an operation whose handler turns out not to call it (its rows come
through the async ORM) is run again after a read of the stamps the first
time, and has them read first from then on.
"""

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from functools import cache, lru_cache, wraps
from typing import Any, TypeVar

import orjson
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.crypto import salted_hmac
from django.utils.http import parse_etags

from config.caching.models import TableStamp
from config.caching.triggers import tracked_tables
from config.runtime.native_db import evaluate, read_ahead

NOT_CACHEABLE = "private, no-store"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Settings that change what the same rows render as: part of every tag, so a
# deploy that changes one does not leave clients with the old bodies.
BODY_SETTINGS = ("TAX_RATE", "CURRENCY_CODE", "CURRENCY_SYMBOL", "API_PAGE_SIZE")

Run = Callable[..., Awaitable[HttpResponseBase]]
R = TypeVar("R", bound=HttpResponseBase)


@cache
def stamps_of(app_label: str) -> QuerySet[TableStamp, Any]:
    """The stamps of ``app_label``'s tables (built once: a queryset that is
    never evaluated itself can be read again and again)."""
    return TableStamp.objects.filter(table_name__in=tracked_tables(app_label)).values("id")


def version(rows: list[dict[str, Any]]) -> tuple[int, ...]:
    return tuple(sorted(row["id"] for row in rows))


async def versions_of(app_label: str) -> tuple[int, ...]:
    """The version of ``app_label``'s tables: their stamps' ids, in one query
    (through ``evaluate``, so on PostgreSQL in one round trip from the loop)."""
    (rows,), _ = await evaluate(stamps_of(app_label))
    return version(rows)


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
    digest = hashlib.blake2b(
        message.encode(), key=_etag_key(settings.SECRET_KEY), digest_size=16
    ).hexdigest()
    return f'"{digest}"'


@lru_cache(maxsize=4)
def _etag_key(secret_key: str) -> bytes:
    """The tags' MAC key, derived from SECRET_KEY once rather than per tag."""
    return salted_hmac("config.caching.etag", "key", secret=secret_key, algorithm="sha256").digest()


def if_none_match(request: HttpRequest) -> list[str] | None:
    """The tags of If-None-Match (RFC 9110 13.1.2), weak ones included, or
    ``["*"]``; None without the header. Unparsable members are ignored."""
    value = request.META.get("HTTP_IF_NONE_MATCH")
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


def _vary_on_authorization(response: HttpResponseBase) -> None:
    """``patch_vary_headers(response, ["Authorization"])``, which parses the
    header first: most responses have none yet."""
    if response.has_header("Vary"):
        patch_vary_headers(response, ["Authorization"])
    else:
        response.headers["Vary"] = "Authorization"


def not_cacheable(response: R) -> R:
    """For every answer that is not a public read's 200 or 304."""
    response["Cache-Control"] = NOT_CACHEABLE
    _vary_on_authorization(response)
    return response


def _cacheable(response: HttpResponseBase, etag: str) -> HttpResponseBase:
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = public_cache_control()
    _vary_on_authorization(response)
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
        # Until a handler is seen reading its rows without evaluate().
        reads_along = True

        @wraps(run)
        async def conditional_run(request: HttpRequest, *args: Any, **kwargs: Any):
            nonlocal reads_along
            if (
                not public
                or request.method not in SAFE_METHODS
                or "HTTP_AUTHORIZATION" in request.META
            ):
                return not_cacheable(await run(request, *args, **kwargs))
            tags = if_none_match(request)
            if reads_along and not tags:
                with read_ahead(stamps_of(app_label)) as ahead:
                    response = await run(request, *args, **kwargs)
                if response.status_code != 200:
                    return not_cacheable(response)
                if ahead.rows is not None:
                    fingerprint = _deploy_fingerprint(operation.api)
                    return _cacheable(response, etag_for(request, version(ahead.rows), fingerprint))
                reads_along = False  # and this once, read the stamps first and run it again
            try:
                versions = await versions_of(app_label)
            except Exception as exc:
                # The API's own answer (a 503 for a database that is down).
                return not_cacheable(operation.api.on_exception(request, exc))
            etag = etag_for(request, versions, _deploy_fingerprint(operation.api))
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
