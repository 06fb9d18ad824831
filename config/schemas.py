"""API schema pieces every app's router shares."""

from ninja import Schema

# Ids are 64-bit (bigint primary keys); a larger number could only overflow
# the database driver.
MAX_ID = 2**63 - 1


class ErrorOut(Schema):
    """The body of every 4xx: ``{"detail": "..."}``."""

    detail: str
