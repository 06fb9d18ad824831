"""Running times as people write them: "HH:MM:SS" in and out.

The API and the pages show running times as "HH:MM:SS" (hours may exceed 24),
the format of the seed data; the API also accepts ISO 8601 ("PT2H16M"), and
the import command plain minutes ("136").
"""

import re
from datetime import timedelta

from django.utils.dateparse import parse_duration

from movies.models import DURATION_MAX

_CLOCK = re.compile(r"(?P<hours>\d{1,3}):(?P<minutes>[0-5]\d)(?::(?P<seconds>[0-5]\d))?")


def parse_running_time(text: str, *, allow_minutes: bool = False) -> timedelta:
    """A positive timedelta of at most DURATION_MAX from "HH:MM:SS", "HH:MM"
    or ISO 8601 (and a whole number of minutes with ``allow_minutes``);
    ValueError with a reason otherwise."""
    text = text.strip()
    duration = None
    if allow_minutes and text.isascii() and text.isdigit():
        duration = timedelta(minutes=int(text[:7]))
    elif match := _CLOCK.fullmatch(text):
        duration = timedelta(
            hours=int(match["hours"]),
            minutes=int(match["minutes"]),
            seconds=int(match["seconds"] or 0),
        )
    elif text[:1] in {"P", "p", "-"}:
        try:
            duration = parse_duration(text.upper())
        except (OverflowError, ValueError):
            duration = None
    if duration is None:
        expected = '"HH:MM:SS", ISO 8601'
        expected += " or whole minutes" if allow_minutes else ""
        raise ValueError(f"{text!r} is not a running time ({expected})")
    if duration <= timedelta(0):
        raise ValueError("the running time must be positive")
    if duration > DURATION_MAX:
        raise ValueError(f"the running time must be at most {format_running_time(DURATION_MAX)}")
    return duration


def format_running_time(duration: timedelta) -> str:
    """ "HH:MM:SS", whole seconds (hours go past 24 rather than into days)."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"
