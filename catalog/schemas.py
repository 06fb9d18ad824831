"""Input and output schemas of the catalog API, one pair per operation."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import PlainSerializer, model_validator

from catalog.services import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from config.schemas import MAX_ID

# Money leaves as a string with exactly two places ("12.50"): a JSON number
# would be read back as a binary float by most clients.
Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, ".2f"), return_type=str, when_used="always"),
]
Rate = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value.normalize(), "f"), return_type=str),
]


class CategoryOut(Schema):
    id: int
    name: str
    slug: str


class CategoryListItemOut(CategoryOut):
    product_count: int = Field(description="Active products in the category.")


class ProductFilters(Schema):
    category: str | None = Field(None, max_length=100, description="A category slug.")
    min_price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    max_price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    in_stock: bool | None = Field(
        None, description="true: only products in stock; false: only sold-out ones."
    )
    q: str | None = Field(None, max_length=100, description="Text in the name or description.")

    @model_validator(mode="after")
    def price_range_is_ordered(self):
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise ValueError("min_price is greater than max_price")
        return self


class ProductOut(Schema):
    id: int
    name: str
    slug: str
    category: CategoryOut
    price: Money = Field(description="Net price, a decimal string.")
    price_with_tax: Money = Field(description="Price including TAX_RATE, a decimal string.")
    stock: int
    in_stock: bool


class ProductDetailOut(ProductOut):
    description: str
    created: datetime
    updated: datetime


class OrderItemIn(Schema):
    product_id: int = Field(..., ge=1, le=MAX_ID)
    quantity: int = Field(..., gt=0, le=MAX_LINE_QUANTITY)


class OrderCreateIn(Schema):
    """Only products and quantities: the server prices the order, so any
    price a client sends is ignored."""

    items: list[OrderItemIn] = Field(..., min_length=1, max_length=MAX_ORDER_LINES)

    @model_validator(mode="after")
    def products_are_distinct(self):
        seen, repeated = set(), set()
        for item in self.items:
            (repeated if item.product_id in seen else seen).add(item.product_id)
        if repeated:
            listed = ", ".join(str(pk) for pk in sorted(repeated))
            raise ValueError(f"products listed more than once: {listed}; add up their quantities")
        return self


class OrderItemOut(Schema):
    product_id: int
    product_name: str
    quantity: int
    unit_price: Money = Field(description="Net price per unit when the order was placed.")
    line_total: Money

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name


class OrderOut(Schema):
    id: int
    status: str
    created: datetime
    items: list[OrderItemOut]
    subtotal: Money
    tax_rate: Rate
    tax: Money
    total: Money


class StockConflictOut(Schema):
    detail: str
    product_id: int
    requested: int
    available: int = Field(description="Units left in stock.")
