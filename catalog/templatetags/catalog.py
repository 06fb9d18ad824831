"""How the catalog reads on the pages: stock as words, the tax rate as a
percentage."""

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode

from catalog.pricing import tax_rate

register = template.Library()

# At or below this many units a product reads "Only N left".
LOW_STOCK_THRESHOLD = 5


@register.filter
def stock_level(stock: int | None) -> str:
    """ "out", "low" or "in": the state of ``stock``, also a CSS modifier."""
    if not stock or stock <= 0:
        return "out"
    if stock <= LOW_STOCK_THRESHOLD:
        return "low"
    return "in"


@register.filter
def stock_state(stock: int | None) -> str:
    """What a shopper reads: "In stock", "Only 2 left" or "Sold out"."""
    level = stock_level(stock)
    if level == "out":
        return "Sold out"
    if level == "low":
        return f"Only {stock} left"
    return "In stock"


@register.simple_tag
def product_row(product, list_url: str) -> str:
    """One row of the products table: name and link, category and link,
    price with tax, net price, availability.

    Built in one call, as the admin builds its change list rows: as template
    variables, a row was ten lookups and five filters, half the page's
    rendering. Links come from the list's URL (a product is
    ``<list_url><slug>/``, as in catalog/urls.py) rather than a ``reverse()``
    per row; prices are plain digits (``1357.95``), as ``unlocalize`` gives.
    """
    level = stock_level(product.stock)
    category = product.category
    return format_html(
        '<tr>\n      <td><a href="{}{}/">{}</a></td>\n'
        '      <td class="hide-narrow"><a class="quiet-link" href="{}?{}">{}</a></td>\n'
        '      <td class="num"><strong>{}</strong></td>\n'
        '      <td class="num hide-narrow muted">{}</td>\n'
        '      <td><span class="badge badge-stock-{}">{}</span></td>\n    </tr>',
        list_url,
        product.slug,
        product.name,
        list_url,
        urlencode({"category": category.slug}),
        category.name,
        str(product.price_with_tax),
        str(product.price),
        level,
        stock_state(product.stock),
    )


@register.simple_tag
def tax_percent() -> str:
    """The tax rate as people write it: "10%", "7.5%"."""
    return f"{(tax_rate() * 100).normalize():f}%"


ORDER_STATUS_TONES = {"pending": "warn", "paid": "ok", "cancelled": "off"}


@register.filter
def order_status_tone(status: str) -> str:
    """A CSS modifier for an order status badge; the status is always spelled out."""
    return ORDER_STATUS_TONES.get(status, "off")
