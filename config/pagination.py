"""The project's limit/offset pagination for API lists (settings name it as
``NINJA_PAGINATION_CLASS``, so a bare ``@paginate`` uses it)."""

from ninja import Field
from ninja.pagination import LimitOffsetPagination

# Offsets past this are refused with a 422 rather than overflowing the
# database driver (a 500); no list comes near it.
MAX_OFFSET = 2**31 - 1


class Pagination(LimitOffsetPagination):
    """ninja's limit/offset pagination (default and maximum ``limit`` from the
    NINJA_PAGINATION_* settings; over the maximum is a 422) with a bounded
    ``offset``."""

    class Input(LimitOffsetPagination.Input):
        offset: int = Field(0, ge=0, le=MAX_OFFSET)
