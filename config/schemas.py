"""API schema pieces every app's router shares."""

from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, StrictInt, StringConstraints

# Ids are 64-bit (bigint primary keys); a larger number could only overflow
# the database driver.
MAX_ID = 2**63 - 1


def _whole_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a JSON body. JSON has one number type and JSON Schema's
# "integer" is any number without a fraction, so 100.0 is the integer 100
# (and 100.5 a 422); a string ("100") or a boolean is not a number: a 422.
JsonInt = Annotated[StrictInt, BeforeValidator(_whole_number)]


# Every string the API takes (query, header, JSON) excludes the C0 control
# characters and DEL: PostgreSQL cannot hold a NUL (a query with one fails),
# and the others are never part of a title or a search. Enforced by pydantic
# and published as the parameter's ``pattern`` in the OpenAPI schema, so a
# refusal is a 422 naming the field that a generated client expects.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# The same, and not blank: at least one character that is not whitespace.
NOT_BLANK_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


# A search box's text.
SearchText = Annotated[str, StringConstraints(max_length=100, pattern=TEXT_PATTERN)]


class ErrorOut(Schema):
    """The body of every 4xx: ``{"detail": "..."}``."""

    detail: str


def links_from_id(parameter: str, *operation_ids: str, statuses: tuple[int, ...] = (201,)) -> dict:
    """``openapi_extra`` for an operation whose ``statuses`` answers are a
    resource: OpenAPI links from its ``id`` to the operations that take it as
    ``parameter``, so a client (or a stateful fuzzer) knows where it leads."""
    links = {
        operation_id: {"operationId": operation_id, "parameters": {parameter: "$response.body#/id"}}
        for operation_id in operation_ids
    }
    return {"responses": {status: {"links": links} for status in statuses}}
