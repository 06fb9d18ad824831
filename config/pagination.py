"""API pagination: limit/offset for every list, and keyset cursors for the
lists that take them.

``Pagination`` is ninja's limit/offset pagination (settings name it as
``NINJA_PAGINATION_CLASS``, so a bare ``@paginate`` uses it).

``CursorPageIn`` and ``keyset_page`` page a ``values()`` queryset either by
limit/offset or by an opaque ``cursor``: a position in the list's ordering
(the values of its ordering fields and of the id that ends it), so a page
starts right after the last row of the one before, however many rows were
inserted or deleted ahead of it since. Pages fetch one row more than they
show where that is what says whether there is a page beyond; an offset page
with its count needs no extra row (the count says it).

A cursor holds the position only: which list (``list_name``), which ordering,
which way (the next page, or the previous one) and the boundary values. The
filters come from the query string as usual, so a client sends the same
filters with each cursor. The token is urlsafe base64 of a truncated HMAC
(keyed from ``SECRET_KEY``) followed by compact JSON; one the server did not
make, or made for another list or ordering, is a 422 naming ``cursor``.

NULLs: an ordering field that can be NULL is ordered with NULLs explicitly
placed (after the other values ascending, before them descending, as
PostgreSQL does by default), so SQLite and PostgreSQL order, and page,
alike.
"""

import functools
import hashlib
import hmac
from base64 import urlsafe_b64decode, urlsafe_b64encode
from binascii import Error as Base64Error
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from ninja import Field as SchemaField
from ninja.errors import ValidationError
from ninja.pagination import LimitOffsetPagination

# Offsets past this are refused with a 422 rather than overflowing the
# database driver (a 500); no list comes near it.
MAX_OFFSET = 2**31 - 1

# Room for a cursor on a 200-character title of 4-byte characters, under the
# query string's bound (DJANGO_MAX_QUERY_STRING).
CURSOR_MAX_LENGTH = 1400
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

NEXT = "next"
PREVIOUS = "previous"

NEXT_DESCRIPTION = (
    "The next page's cursor, to pass as `cursor`; null on the last page. "
    "Given on offset pages too, so a client can switch to cursors."
)
PREVIOUS_DESCRIPTION = "The previous page's cursor, to pass as `cursor`; null on the first page."
COUNT_DESCRIPTION = "Rows matching the filters, on all pages; null with `count=false`."


class Pagination(LimitOffsetPagination):
    """ninja's limit/offset pagination (default and maximum ``limit`` from the
    NINJA_PAGINATION_* settings; over the maximum is a 422) with a bounded
    ``offset``."""

    class Input(LimitOffsetPagination.Input):
        offset: int = SchemaField(0, ge=0, le=MAX_OFFSET)


class CursorPageIn(Pagination.Input):
    """``limit`` and ``offset`` as in every list, or ``cursor`` (with no
    offset), and ``count``."""

    cursor: str | None = SchemaField(
        None,
        min_length=1,
        max_length=CURSOR_MAX_LENGTH,
        pattern=CURSOR_PATTERN,
        description="A `next` or `previous` cursor from an earlier page of this list, with "
        "the same ordering; pages then stay put while rows are added. Not with `offset`. "
        "Send the filters again: the cursor holds only the position.",
    )
    count: bool = SchemaField(
        True, description="false: skip counting the matching rows (`count` is null)."
    )


# Keysets --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    """One ordering field: its lookup (also its key in a ``values()`` row),
    its direction and where its NULLs come."""

    name: str
    field: Field
    descending: bool
    nullable: bool
    nulls_first: bool

    @property
    def label(self) -> str:
        label = f"-{self.name}" if self.descending else self.name
        if self.nullable and self.nulls_first != self.descending:
            label += ":nulls-first" if self.nulls_first else ":nulls-last"
        return label

    def reversed(self) -> "_Key":
        return replace(self, descending=not self.descending, nulls_first=not self.nulls_first)

    def order(self) -> str | OrderBy:
        if not self.nullable:
            return f"-{self.name}" if self.descending else self.name
        nulls: dict[str, bool] = {"nulls_first" if self.nulls_first else "nulls_last": True}
        return OrderBy(F(self.name), descending=self.descending, **nulls)

    def equal(self, value: Any) -> Q:
        return Q(**{f"{self.name}__isnull": True}) if value is None else Q(**{self.name: value})

    def beyond(self, value: Any) -> Q | None:
        """Rows whose value comes after ``value`` in this key's order; None
        when none can (nothing comes after a NULL placed last)."""
        if value is None:
            return Q(**{f"{self.name}__isnull": False}) if self.nulls_first else None
        beyond = Q(**{f"{self.name}__{'lt' if self.descending else 'gt'}": value})
        if self.nullable and not self.nulls_first:
            beyond |= Q(**{f"{self.name}__isnull": True})
        return beyond

    def reached(self, value: Any) -> Q:
        """Rows whose value is ``value`` (not NULL) or after it."""
        reached = Q(**{f"{self.name}__{'lte' if self.descending else 'gte'}": value})
        if self.nullable and not self.nulls_first:
            reached |= Q(**{f"{self.name}__isnull": True})
        return reached

    def parse(self, value: Any) -> Any:
        """A boundary value read from a cursor, as the field holds it."""
        if value is None:
            if not self.nullable:
                raise ValueError("null for a field that is never null")
            return None
        if type(value) not in (str, int):
            raise TypeError("a cursor holds strings and integers")
        parsed = self.field.to_python(value)
        self.field.run_validators(parsed)
        if isinstance(parsed, str) and "\x00" in parsed:
            raise ValueError("NUL in a string")
        return parsed


def _beyond(keys: tuple[_Key, ...], values: tuple[Any, ...]) -> Q:
    """Rows after ``values`` in the order of ``keys``: after it on the first
    key, or equal on it and after it on the next, and so on."""
    disjuncts = []
    for index, key in enumerate(keys):
        beyond = key.beyond(values[index])
        if beyond is None:
            continue
        for earlier, value in zip(keys[:index], values, strict=False):
            beyond &= earlier.equal(value)
        disjuncts.append(beyond)
    # Never empty: the last key is never NULL, and something can follow any value.
    after = functools.reduce(Q.__or__, disjuncts)
    if len(disjuncts) > 1 and values[0] is not None:
        # Redundant, as a plain range an index on the first key can narrow the scan by.
        after = keys[0].reached(values[0]) & after
    return after


@dataclass(frozen=True, slots=True)
class Keyset:
    keys: tuple[_Key, ...]
    # Names the ordering in cursors ("-rating,-id"; NULLs are named where
    # they are not placed as PostgreSQL's default would place them).
    label: str
    order_by: tuple[str | OrderBy, ...]
    reverse_order_by: tuple[str | OrderBy, ...]

    def after(self, values: tuple[Any, ...]) -> Q:
        return _beyond(self.keys, values)

    def before(self, values: tuple[Any, ...]) -> Q:
        return _beyond(tuple(key.reversed() for key in self.keys), values)


def _field(model: type[Model], name: str) -> tuple[Field, bool]:
    """The field a lookup ends at, and whether a NULL can stand in its place
    (a nullable field, or a nullable relation on the way)."""
    field: Any = None
    nullable = False
    for part in name.split("__"):
        field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        nullable = nullable or bool(field.null)
        if field.related_model is not None:
            model = field.related_model
    return field, nullable


@functools.lru_cache(maxsize=64)
def keyset_of(model: type[Model], order_by: tuple[Any, ...]) -> Keyset:
    """The keyset of a list ordered by ``order_by`` (a queryset's
    ``query.order_by``: "field", "-field", or F() ordered with asc()/desc()),
    which must end with the primary key or another unique, non-null field."""
    if not order_by:
        raise ValueError("a keyset needs an ordering")
    keys = []
    for item in order_by:
        if isinstance(item, str):
            descending, name, nulls_first = item.startswith("-"), item.lstrip("-"), None
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            descending, name = item.descending, item.expression.name  # type: ignore[attr-defined]
            nulls_first = True if item.nulls_first else False if item.nulls_last else None
        else:
            raise ValueError(f"cannot page by keyset on {item!r}")
        field, nullable = _field(model, name)
        if nulls_first is None:
            nulls_first = descending  # NULL after every value, as PostgreSQL has it
        keys.append(_Key(name, field, descending, nullable, nulls_first))
    last = keys[-1]
    if last.nullable or not (last.field.primary_key or last.field.unique):
        raise ValueError("a keyset ordering must end with a unique, non-null field")
    return Keyset(
        keys=tuple(keys),
        label=",".join(key.label for key in keys),
        order_by=tuple(key.order() for key in keys),
        reverse_order_by=tuple(key.reversed().order() for key in keys),
    )


# Cursors --------------------------------------------------------------------

_SIGNATURE_BYTES = 12
_PAYLOAD_KEYS = frozenset({"list", "order", "page", "key"})


@functools.lru_cache(maxsize=4)
def _signing_key(secret: str) -> bytes:
    # Derived, so the HMAC key is used for cursors and nothing else.
    return hashlib.sha256(b"config.pagination.cursor\x00" + secret.encode()).digest()


def _signature(data: bytes) -> bytes:
    return hmac.digest(_signing_key(settings.SECRET_KEY), data, "sha256")[:_SIGNATURE_BYTES]


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot go into a cursor")


def encode_cursor(list_name: str, label: str, page: str, key: list[Any] | None) -> str:
    data = orjson.dumps(
        {"list": list_name, "order": label, "page": page, "key": key}, default=_json_default
    )
    return urlsafe_b64encode(_signature(data) + data).rstrip(b"=").decode("ascii")


def _cursor_error(kind: str, message: str, loc: str = "cursor") -> ValidationError:
    return ValidationError([{"type": kind, "loc": ["query", loc], "msg": message}])


def decode_cursor(token: str, keyset: Keyset, list_name: str) -> tuple[str, tuple[Any, ...] | None]:
    """The direction (NEXT or PREVIOUS) and the boundary values of a cursor
    (None: from the start, or from the end); a 422 for any other string."""
    not_ours = _cursor_error(
        "cursor_invalid",
        "Not a cursor of this API, or altered: pass back a `next` or `previous` "
        "cursor exactly as it was given, or leave `cursor` out to start again.",
    )
    try:
        raw = urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (Base64Error, ValueError):
        raise not_ours from None
    data = raw[_SIGNATURE_BYTES:]
    if not data or not hmac.compare_digest(raw[:_SIGNATURE_BYTES], _signature(data)):
        raise not_ours
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise not_ours from None
    if type(payload) is not dict or payload.keys() != _PAYLOAD_KEYS:
        raise not_ours
    if payload["list"] != list_name:
        raise _cursor_error(
            "cursor_mismatch",
            f"This cursor pages through {payload['list']}, not {list_name}.",
        )
    if payload["order"] != keyset.label:
        raise _cursor_error(
            "cursor_mismatch",
            f"This cursor was made for the ordering {payload['order']}, and this request "
            f"orders by {keyset.label}: send the ordering it was made with, or leave "
            "`cursor` out to start again.",
        )
    page, key = payload["page"], payload["key"]
    if page not in (NEXT, PREVIOUS):
        raise not_ours
    if key is None:
        return page, None
    if type(key) is not list or len(key) != len(keyset.keys):
        raise not_ours
    try:
        values = tuple(part.parse(value) for part, value in zip(keyset.keys, key, strict=True))
    except (ValueError, TypeError, ArithmeticError, DjangoValidationError):
        raise not_ours from None
    return page, values


# Pages ----------------------------------------------------------------------


@dataclass(slots=True)
class KeysetPage:
    """One page of a list: evaluate ``rows`` (and ``count``), then ``links``
    cuts the rows to the page and makes its cursors."""

    keyset: Keyset
    list_name: str
    limit: int
    offset: int
    # None for an offset page; NEXT or PREVIOUS for a cursor's.
    direction: str | None
    boundary: tuple[Any, ...] | None
    # The page's rows, one more where that says whether there is a page
    # beyond; nearest first (so in reverse order) for a previous page.
    rows: QuerySet
    # The list to count, or None with count=false.
    count: QuerySet | None

    def _cursor(self, page: str, row: dict[str, Any] | None) -> str:
        key = None if row is None else [row[part.name] for part in self.keyset.keys]
        return encode_cursor(self.list_name, self.keyset.label, page, key)

    def links(
        self, rows: list[dict[str, Any]], count: int | None
    ) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
        """The page's rows in the list's order, and its ``next`` and
        ``previous`` cursors (None at either end). ``rows`` and ``count`` are
        what ``rows`` and ``count`` evaluated to."""
        limit = self.limit
        if self.direction is None:
            if count is not None:
                more_after = self.offset + len(rows) < count
            else:
                more_after = len(rows) > limit
                rows = rows[:limit]
            more_before = self.offset > 0
        elif self.direction == NEXT:
            more_after = len(rows) > limit
            rows = rows[:limit]
            more_before = self.boundary is not None
        else:
            more_before = len(rows) > limit
            rows = rows[:limit][::-1]
            more_after = self.boundary is not None
        # With no row to start from (a page past the end, or before the
        # start), the neighbour is the list's last or first page.
        next_page = previous = None
        if more_after:
            next_page = self._cursor(NEXT, rows[-1] if rows else None)
        if more_before:
            previous = self._cursor(PREVIOUS, rows[0] if rows else None)
        return rows, {"next": next_page, "previous": previous}


def keyset_page(queryset: QuerySet, params: CursorPageIn, *, list_name: str) -> KeysetPage:
    """The page of ``queryset`` (ordered ``values()`` rows, ending with a
    unique field such as the id) that ``params`` asks for. ``list_name``
    ties cursors to the list they were made for. A cursor that is not one of
    this list's and ordering's, or a cursor with an offset, is a 422."""
    keyset = keyset_of(queryset.model, queryset.query.order_by)  # type: ignore[arg-type]
    if keyset.order_by != queryset.query.order_by:
        queryset = queryset.order_by(*keyset.order_by)  # NULLs placed explicitly
    count = queryset if params.count else None
    limit, offset = params.limit, params.offset
    if params.cursor is None:
        # With the count, the count says whether a next page exists.
        end = offset + limit + (0 if params.count else 1)
        rows = queryset[offset:end]
        return KeysetPage(keyset, list_name, limit, offset, None, None, rows, count)
    if params.offset:
        raise _cursor_error(
            "cursor_with_offset",
            "`offset` cannot go with `cursor`: the cursor says where the page starts.",
            loc="offset",
        )
    direction, boundary = decode_cursor(params.cursor, keyset, list_name)
    if direction == NEXT:
        if boundary is not None:
            queryset = queryset.filter(keyset.after(boundary))
    else:
        if boundary is not None:
            queryset = queryset.filter(keyset.before(boundary))
        queryset = queryset.order_by(*keyset.reverse_order_by)
    rows = queryset[: limit + 1]
    return KeysetPage(keyset, list_name, limit, 0, direction, boundary, rows, count)
