"""Page links for any paginated list (movies, products): the page numbers to
show around the current one, with "…" for the gaps."""

from django import template
from django.core.paginator import Page

register = template.Library()


@register.filter
def page_numbers(page: Page, on_each_side: int = 1) -> list:
    """Numbers (and ``Paginator.ELLIPSIS``) for the links: the first and last
    page, and ``on_each_side`` pages either side of the current one, so the
    bar stays short on a phone whatever the number of pages."""
    return list(
        page.paginator.get_elided_page_range(page.number, on_each_side=on_each_side, on_ends=1)
    )
