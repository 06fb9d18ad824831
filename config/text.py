"""Text from outside, made safe for the database in one place.

PostgreSQL cannot store or compare a NUL character ("A string literal cannot
contain NUL (0x00) characters"): a NUL that reaches a query is a 500. The API
refuses control characters in its string inputs with a 422 naming the field
(``config.schemas.TEXT_PATTERN``); the HTML pages and the admin, where a
search box should never fail, drop NUL from the query string instead
(``without_nul``, used by the page views and ``ProjectAdminSite.admin_view``).
Other control characters are valid text to PostgreSQL and SQLite.
"""

from django.http import QueryDict

NUL = "\x00"


def strip_nul(value: str) -> str:
    return value.replace(NUL, "")


def without_nul(query: QueryDict) -> QueryDict:
    """``query`` itself if it holds no NUL, else a copy with NUL removed from
    every name and value."""
    lists = list(query.lists())
    if not any(NUL in key or NUL in "".join(values) for key, values in lists):
        return query
    cleaned = QueryDict(mutable=True)
    for key, values in lists:
        cleaned.setlist(strip_nul(key), [strip_nul(value) for value in values])
    cleaned._mutable = False
    return cleaned


def search_term(value: str | None, max_length: int = 100) -> str:
    """A search box's text: no NUL, no surrounding whitespace, at most
    ``max_length`` characters."""
    return strip_nul(value or "").strip()[:max_length]
