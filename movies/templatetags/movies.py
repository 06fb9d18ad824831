from datetime import timedelta

from django import template
from django.utils.duration import duration_iso_string

register = template.Library()


@register.filter
def running_time(duration: timedelta | None) -> str:
    """ "2 h 16 min" for people (whole minutes)."""
    if duration is None:
        return ""
    minutes = int(duration.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes:02d} min"


@register.filter
def iso_duration(duration: timedelta | None) -> str:
    """ISO 8601 for <time datetime="…">."""
    return duration_iso_string(duration) if duration is not None else ""
