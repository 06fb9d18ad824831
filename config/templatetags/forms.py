"""Form fields as the site renders them: every input described by its help
text and its errors, so a screen reader announces both with the field."""

from django import template
from django.forms import BoundField

register = template.Library()


@register.simple_tag
def field_widget(field: BoundField) -> str:
    """The field's widget with ``aria-describedby`` pointing at its help text
    (``<id>_helptext``) and its errors (``<id>_errors``); Django adds
    ``aria-invalid`` when there are errors."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_errors")
    return field.as_widget(attrs={"aria-describedby": " ".join(ids)} if ids else None)
