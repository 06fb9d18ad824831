"""Input and output schemas of the catalog API, one pair per operation."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema, model_validator

from catalog.pricing import currency_code, price_with_tax, tax_rate
from catalog.services import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from config.pagination import COUNT_DESCRIPTION, NEXT_DESCRIPTION, PREVIOUS_DESCRIPTION
from config.schemas import MAX_ID, TEXT_PATTERN, JsonInt, SearchText

# Money leaves as a string with exactly two places ("12.50"): a JSON number
# would be read back as a binary float by most clients.
Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, ".2f"), return_type=str, when_used="always"),
]
CURRENCY_DESCRIPTION = "ISO 4217 code of the amounts (the shop's CURRENCY_CODE), e.g. USD."
Rate = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value.normalize(), "f"), return_type=str),
]


# A price filter as the query string carries it: digits, at most two decimal
# places (what Product.price holds). The pattern is both the check and the
# schema, so "" or "1e3", refused, are outside the schema too.
PRICE_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def _price_text(value):
    if isinstance(value, str) and not re.fullmatch(PRICE_PATTERN, value):
        raise ValueError("expected a price such as 12.50 (up to 10 digits, 2 decimal places)")
    return value


PriceFilter = Annotated[
    Decimal,
    BeforeValidator(_price_text),
    WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["12.50"]}),
]


class CategoryOut(Schema):
    id: int
    name: str
    slug: str


class CategoryListItemOut(CategoryOut):
    product_count: int = Field(description="Active products in the category.")


class ProductFilters(Schema):
    category: str | None = Field(
        None, max_length=100, pattern=TEXT_PATTERN, description="A category slug."
    )
    min_price: PriceFilter | None = None
    max_price: PriceFilter | None = Field(None, description="Not less than min_price.")
    in_stock: bool | None = Field(
        None, description="true: only products in stock; false: only sold-out ones."
    )
    q: SearchText | None = Field(None, description="Text in the name or description.")

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
    currency: str = Field(description=CURRENCY_DESCRIPTION)
    stock: int
    in_stock: bool

    @staticmethod
    def resolve_currency(obj) -> str:
        return currency_code()


class ProductPageOut(Schema):
    items: list[ProductOut]
    count: int | None = Field(description=COUNT_DESCRIPTION)
    next: str | None = Field(description=NEXT_DESCRIPTION)
    previous: str | None = Field(description=PREVIOUS_DESCRIPTION)


def product_dicts(rows: list[dict]) -> list[dict]:
    """ProductOut dicts from rows of ``catalog.selectors.product_rows``."""
    rate = tax_rate()
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "slug": row["slug"],
            "category": {
                "id": row["category_id"],
                "name": row["category__name"],
                "slug": row["category__slug"],
            },
            "price": row["price"],
            "price_with_tax": price_with_tax(row["price"], rate),
            "stock": row["stock"],
            "in_stock": row["stock"] > 0,
        }
        for row in rows
    ]


class ProductDetailOut(ProductOut):
    description: str
    created: datetime
    updated: datetime


class OrderItemIn(Schema):
    """JSON integers only: "1" or true is a 422, as in the movie inputs."""

    product_id: JsonInt = Field(..., ge=1, le=MAX_ID)
    quantity: JsonInt = Field(..., gt=0, le=MAX_LINE_QUANTITY)


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
    currency: str = Field(description=CURRENCY_DESCRIPTION)

    @staticmethod
    def resolve_currency(obj) -> str:
        return currency_code()


class StockConflictOut(Schema):
    detail: str
    product_id: int
    requested: int
    available: int = Field(description="Units left in stock.")
