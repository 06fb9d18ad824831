"""How the catalog reads on the pages and in mails: stock as words, the tax
rate as a percentage, money with the currency and thousands separators."""

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from catalog.cart import MAX_CART_QUANTITY
from catalog.pricing import format_money, tax_rate

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


@register.filter
def money(amount) -> str:
    """ "$1,234.50": ``CURRENCY_SYMBOL``, thousands separators, cents."""
    return format_money(amount)


@register.filter
def count(number: int | None) -> str:
    """A count with thousands separators: "12,345"."""
    return f"{number or 0:,}"


ADD_CONTROLS = (
    '<span class="add-controls"><label class="visually-hidden" for="qty-{pk}">'
    "Quantity of {name}</label>"
    '<input form="{form}" type="number" id="qty-{pk}" name="quantity-{pk}" value="1" '
    'min="1" max="{max}" inputmode="numeric" class="qty-input">'
    '<button form="{form}" type="submit" name="product" value="{pk}" class="button-small">'
    'Add<span class="visually-hidden"> {name} to cart</span></button></span>'
)


@register.simple_tag
def product_row(product, list_url: str, cart_form: str = "") -> str:
    """One row of the products table: name and link, category and link,
    price with tax, net price, availability and, with ``cart_form`` (the id
    of the page's one add-to-cart form), beside it a quantity and an Add
    button (in the same cell, so a phone needs no extra column).

    Built in one call, as the admin builds its change list rows: as template
    variables, a row was ten lookups and five filters, half the page's
    rendering. Links come from the list's URL (a product is
    ``<list_url><slug>/``, as in catalog/urls.py) rather than a ``reverse()``
    per row. The Add buttons all submit one form (HTML's ``form``
    attribute), so the page carries one CSRF token, not one per row.
    """
    level = stock_level(product.stock)
    category = product.category
    row = format_html(
        '<tr>\n      <td><a href="{}{}/">{}</a></td>\n'
        '      <td class="hide-narrow"><a class="quiet-link" href="{}?{}">{}</a></td>\n'
        '      <td class="num"><strong>{}</strong></td>\n'
        '      <td class="num hide-narrow muted">{}</td>\n'
        '      <td><div class="cart-cell"><span class="badge badge-stock-{}">{}</span>',
        list_url,
        product.slug,
        product.name,
        list_url,
        urlencode({"category": category.slug}),
        category.name,
        format_money(product.price_with_tax),
        format_money(product.price),
        level,
        stock_state(product.stock),
    )
    if cart_form and product.stock > 0:
        row += format_html(
            ADD_CONTROLS,
            pk=product.pk,
            name=product.name,
            form=cart_form,
            max=min(product.stock, MAX_CART_QUANTITY),
        )
    return row + mark_safe("</div></td>\n    </tr>")  # noqa: S308 (a constant)


@register.simple_tag
def percent(rate) -> str:
    """A rate as people write it: 0.1 → "10%", 0.075 → "7.5%"."""
    return f"{(rate * 100).normalize():f}%"


@register.simple_tag
def tax_percent() -> str:
    """The tax rate as people write it: "10%", "7.5%"."""
    return percent(tax_rate())


ORDER_STATUS_TONES = {"pending": "warn", "paid": "ok", "cancelled": "off"}


@register.filter
def order_status_tone(status: str) -> str:
    """A CSS modifier for an order status badge; the status is always spelled out."""
    return ORDER_STATUS_TONES.get(status, "off")
