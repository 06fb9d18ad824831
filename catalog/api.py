"""Catalog API: async handlers over the async ORM; writes go through the sync
services in ``catalog.services`` via ``sync_to_async``."""

from typing import Annotated

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from ninja import Header, Path, Query, Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from pydantic import WithJsonSchema

from catalog import selectors, services
from catalog.models import Order
from catalog.schemas import (
    CategoryListItemOut,
    OrderCreateIn,
    OrderOut,
    ProductDetailOut,
    ProductFilters,
    ProductPageOut,
    StockConflictOut,
    product_dicts,
)
from config.access.tokens import token_auth
from config.pagination import CursorPageIn, keyset_page
from config.runtime.native_db import evaluate
from config.schemas import MAX_ID, NOT_BLANK_TEXT_PATTERN, TEXT_PATTERN, ErrorOut, links_from_id

router = Router(tags=["catalog"])

IDEMPOTENCY_HEADER = "Idempotency-Key"


@router.get("/categories", response=list[CategoryListItemOut])
@paginate
async def list_categories(request):
    return selectors.category_list()


@router.get("/products", response=ProductPageOut)
async def list_products(request, filters: Query[ProductFilters], page: Query[CursorPageIn]):
    """Active products only, by name, each with its category and its price
    with and without tax. `limit` and `offset` page through them, or
    `cursor`: a page's `next` or `previous`, for pages that stay put while
    products are added (a cursor made for another list, altered, or sent with
    an offset is a 422). `count=false` leaves the total out.
    `min_price` greater than `max_price` is a 422 (a rule across two
    parameters, which the schema cannot state)."""
    products = selectors.product_rows(**filters.model_dump())
    shown = keyset_page(products, page, list_name="products")
    (rows,), count = await evaluate(shown.rows, count=shown.count)
    rows, links = shown.links(rows, count)
    return {"items": product_dicts(rows), "count": count, **links}


@router.get("/products/{product_id}", response={200: ProductDetailOut, 404: ErrorOut})
async def get_product(request, product_id: int = Path(..., ge=1, le=MAX_ID)):
    product = await selectors.product_detail().filter(pk=product_id).afirst()
    if product is None:
        raise HttpError(404, f"No product {product_id} for sale.")
    return product


async def _order_for(request, order_id: int) -> Order:
    """The order if the caller may see it (theirs, or any for staff); 404
    otherwise, so other users' order ids are not revealed."""
    order = await selectors.order_visible_to(user=request.auth).filter(pk=order_id).afirst()
    if order is None:
        raise HttpError(404, f"No order {order_id} of yours.")
    return order


def _unavailable_products_error(payload: OrderCreateIn, product_ids: list[int]):
    """The same shape as ninja's own 422, pointing at the offending items."""
    unavailable = set(product_ids)
    return ValidationError(
        [
            {
                "type": "product_unavailable",
                "loc": ["body", "payload", "items", index, "product_id"],
                "msg": f"Product {item.product_id} does not exist or is not for sale.",
            }
            for index, item in enumerate(payload.items)
            if item.product_id in unavailable
        ]
    )


# What the schema states of the header: its length, and not blank.
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "maxLength": services.MAX_IDEMPOTENCY_KEY_LENGTH,
    "pattern": NOT_BLANK_TEXT_PATTERN,
}


@router.post(
    "/orders",
    auth=token_auth,
    response={200: OrderOut, 201: OrderOut, 409: StockConflictOut},
    summary="Place an order",
    # The new order (201), or the one a retried key placed (200).
    openapi_extra=links_from_id(
        "order_id", "catalog_api_get_order", "catalog_api_cancel_order", statuses=(200, 201)
    ),
)
async def create_order(
    request,
    response: HttpResponse,
    payload: OrderCreateIn,
    idempotency_key: Annotated[str | None, WithJsonSchema(IDEMPOTENCY_KEY_SCHEMA)] = Header(
        None,
        alias=IDEMPOTENCY_HEADER,
        # Blank keys are refused below, with a message that names the header.
        max_length=services.MAX_IDEMPOTENCY_KEY_LENGTH,
        pattern=TEXT_PATTERN,
        description="Up to 255 characters, not blank: a retry with the same key "
        "returns the first order.",
    ),
):
    """Places an order at the server's current prices and takes the stock, in
    one transaction. 201 with the new order; with an `Idempotency-Key` that
    already placed an order for this user, 200 with that order (and the
    `Idempotent-Replayed: true` header) and nothing new is placed. 409 when a
    product has too little stock (nothing is taken); 422 for unknown or
    inactive products, bad quantities, duplicates, an empty or blank key, or
    a key reused with different items."""
    if idempotency_key is not None and not idempotency_key.strip():
        # An empty header is a client bug (a key generator that printed
        # nothing), not a request without a key: a retry would order twice.
        raise ValidationError(
            [
                {
                    "type": "idempotency_key_blank",
                    "loc": ["header", IDEMPOTENCY_HEADER],
                    "msg": f"{IDEMPOTENCY_HEADER} is empty: send a key, or leave the header out.",
                }
            ]
        )
    lines = [services.OrderLine(item.product_id, item.quantity) for item in payload.items]
    try:
        order, created = await sync_to_async(services.order_create)(
            user=request.auth, items=lines, idempotency_key=idempotency_key
        )
    except services.ProductsUnavailable as exc:
        raise _unavailable_products_error(payload, exc.product_ids) from exc
    except services.InsufficientStock as exc:
        return Status(
            409,
            {
                "detail": exc.message,
                "product_id": exc.product_id,
                "requested": exc.requested,
                "available": exc.available,
            },
        )
    except services.IdempotencyKeyReused as exc:
        raise ValidationError(
            [
                {
                    "type": "idempotency_key_reused",
                    "loc": ["header", IDEMPOTENCY_HEADER],
                    "msg": exc.message,
                }
            ]
        ) from exc
    except services.InvalidOrder as exc:
        raise ValidationError(
            [{"type": "invalid_order", "loc": ["body", "payload"], "msg": exc.message}]
        ) from exc
    order = await selectors.order_list().aget(pk=order.pk)
    if not created:
        response["Idempotent-Replayed"] = "true"
    return Status(201 if created else 200, order)


@router.get("/orders", auth=token_auth, response=list[OrderOut])
@paginate
async def list_orders(request):
    """The caller's own orders, newest first."""
    return selectors.order_list(user=request.auth)


@router.get("/orders/{order_id}", auth=token_auth, response={200: OrderOut, 404: ErrorOut})
async def get_order(request, order_id: int = Path(..., ge=1, le=MAX_ID)):
    """One of the caller's orders; staff may read anyone's. 404 otherwise."""
    return await _order_for(request, order_id)


@router.post(
    "/orders/{order_id}/cancel",
    auth=token_auth,
    response={200: OrderOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
async def cancel_order(request, order_id: int = Path(..., ge=1, le=MAX_ID)):
    """Cancels a pending order and puts its items back in stock, in one
    transaction. Your own orders; staff holding `catalog.change_order` may
    cancel anyone's. 409 for orders that are paid or already cancelled."""
    order = await _order_for(request, order_id)
    if order.user_id != request.auth.pk and not await request.auth.ahas_perm(
        "catalog.change_order"
    ):
        return Status(
            403, {"detail": "Only the customer, or staff allowed to change orders, may cancel."}
        )
    try:
        await sync_to_async(services.order_cancel)(order=order)
    except services.OrderNotPending as exc:
        return Status(409, {"detail": exc.message})
    return await selectors.order_list().aget(pk=order.pk)
