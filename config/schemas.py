"""API schema pieces every app's router shares."""

from typing import Annotated

from ninja import Schema
from pydantic import StringConstraints

# Ids are 64-bit (bigint primary keys); a larger number could only overflow
# the database driver.
MAX_ID = 2**63 - 1


# Every string the API takes (query, header, JSON) excludes the C0 control
# characters and DEL: PostgreSQL cannot hold a NUL (a query with one fails),
# and the others are never part of a title or a search. Enforced by pydantic
# and published as the parameter's ``pattern`` in the OpenAPI schema, so a
# refusal is a 422 naming the field that a generated client expects.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


# A search box's text.
SearchText = Annotated[str, StringConstraints(max_length=100, pattern=TEXT_PATTERN)]


class ErrorOut(Schema):
    """The body of every 4xx: ``{"detail": "..."}``."""

    detail: str
