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


@register.filter
def rating_band(rating: int | None) -> str:
    """ "high" (80 and over), "mid" (60–79) or "low": a CSS modifier that
    colours a rating; the number itself is always shown next to it."""
    if rating is None:
        return "none"
    if rating >= 80:
        return "high"
    if rating >= 60:
        return "mid"
    return "low"
