"""The shopping cart, kept in the visitor's session.

The session holds only ``{product id: quantity}``; names, prices and stock are
read from the database each time the cart is shown, so the cart never shows a
stale price and says at once when a product has been withdrawn or has too
little stock left. Logging in keeps the session's data (Django's ``login``
cycles the key, not the contents), so the cart survives signing in.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from catalog.models import Product
from catalog.pricing import order_totals, price_with_tax, tax_rate
from catalog.services import MAX_LINE_QUANTITY, MAX_ORDER_LINES, OrderLine

SESSION_KEY = "cart"
MAX_CART_QUANTITY = MAX_LINE_QUANTITY
MAX_CART_LINES = MAX_ORDER_LINES


class CartFull(Exception):
    pass


@dataclass
class CartLine:
    product: Product
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.product.price

    @property
    def unit_price_with_tax(self) -> Decimal:
        return price_with_tax(self.product.price)

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.product.price

    @property
    def problem(self) -> str:
        """Why this line cannot be ordered as it stands, or ""."""
        if not self.product.is_active:
            return "No longer for sale: remove it to check out."
        if self.product.stock <= 0:
            return "Sold out: remove it to check out."
        if self.quantity > self.product.stock:
            return f"Only {self.product.stock:,} left: lower the quantity to check out."
        return ""


@dataclass
class CartSummary:
    """The cart priced as an order placed now would be: tax once, on the
    subtotal of the lines (``pricing.order_totals``)."""

    lines: list[CartLine]
    tax_rate: Decimal
    subtotal: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    problems: list[CartLine] = field(default_factory=list)

    def __post_init__(self):
        self.subtotal = sum((line.line_total for line in self.lines), Decimal("0"))
        self.tax, self.total = order_totals(self.subtotal, self.tax_rate)
        self.problems = [line for line in self.lines if line.problem]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def can_check_out(self) -> bool:
        return bool(self.lines) and not self.problems

    def order_lines(self) -> list[OrderLine]:
        return [OrderLine(line.product.pk, line.quantity) for line in self.lines]


class Cart:
    def __init__(self, session):
        self.session = session

    def quantities(self) -> dict[int, int]:
        """The session's cart, ignoring anything malformed in it."""
        raw = self.session.get(SESSION_KEY)
        if not isinstance(raw, dict):
            return {}
        cleaned = {}
        for key, value in raw.items():
            try:
                product_id, quantity = int(key), int(value)
            except (TypeError, ValueError):
                continue
            if product_id > 0 and 0 < quantity <= MAX_CART_QUANTITY:
                cleaned[product_id] = quantity
        return cleaned

    def _save(self, quantities: dict[int, int]) -> None:
        self.session[SESSION_KEY] = {str(pk): quantity for pk, quantity in quantities.items()}

    def quantity_of(self, product_id: int) -> int:
        return self.quantities().get(product_id, 0)

    def set(self, product_id: int, quantity: int) -> None:
        """Set a line's quantity; 0 removes it. Raises ``CartFull`` for a new
        line past ``MAX_CART_LINES`` (an order's limit)."""
        quantities = self.quantities()
        if quantity <= 0:
            quantities.pop(product_id, None)
        else:
            if product_id not in quantities and len(quantities) >= MAX_CART_LINES:
                raise CartFull(f"A cart holds at most {MAX_CART_LINES} different products.")
            quantities[product_id] = min(quantity, MAX_CART_QUANTITY)
        self._save(quantities)

    def remove(self, product_id: int) -> None:
        self.set(product_id, 0)

    def clear(self) -> None:
        self.session.pop(SESSION_KEY, None)

    def count(self) -> int:
        """Units in the cart, for the header; no query."""
        return sum(self.quantities().values())

    def summary(self) -> CartSummary:
        """The lines with their products (one query), in the order they were
        added. Products deleted since are dropped from the cart; withdrawn
        ones stay, flagged, so the shopper sees what happened to them."""
        quantities = self.quantities()
        products = Product.objects.select_related("category").in_bulk(list(quantities))
        if len(products) != len(quantities):
            self._save({pk: q for pk, q in quantities.items() if pk in products})
        lines = [
            CartLine(product=products[pk], quantity=quantity)
            for pk, quantity in quantities.items()
            if pk in products
        ]
        return CartSummary(lines=lines, tax_rate=tax_rate())
