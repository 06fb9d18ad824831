"""Reads of the catalog: lazy querysets shared by the async API and the sync
pages. Each one fetches every relation its callers render (``select_related``
/ ``prefetch_related``), so rendering never runs a query per row and async
serialization never touches a lazy relation."""

from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet

from catalog.models import Category, Order, OrderItem, Product


def category_list() -> QuerySet[Category]:
    """All categories, each with ``product_count``: its active products."""
    return Category.objects.annotate(
        product_count=Count("products", filter=Q(products__is_active=True))
    ).order_by("name", "id")


def product_list(
    *,
    category: str | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    in_stock: bool | None = None,
    q: str | None = None,
) -> QuerySet[Product]:
    """Active products with their category, by name. ``category`` is a slug;
    ``None`` for any filter means "do not filter on it"; ``in_stock=False``
    means only sold-out products. ``q`` matches name or description,
    ignoring case."""
    products = Product.objects.active().select_related("category")
    if category:
        products = products.filter(category__slug=category)
    if min_price is not None:
        products = products.filter(price__gte=min_price)
    if max_price is not None:
        products = products.filter(price__lte=max_price)
    if in_stock is True:
        products = products.filter(stock__gt=0)
    elif in_stock is False:
        products = products.filter(stock=0)
    if q and q.strip():
        term = q.strip()
        products = products.filter(Q(name__icontains=term) | Q(description__icontains=term))
    return products.order_by("name", "id")


PRODUCT_ROW_FIELDS = (
    "id",
    "name",
    "slug",
    "price",
    "stock",
    "category_id",
    "category__name",
    "category__slug",
)


def product_rows(**filters) -> QuerySet:
    """``product_list(**filters)`` as ``values()`` rows of PRODUCT_ROW_FIELDS
    (what the API lists)."""
    return product_list(**filters).values(*PRODUCT_ROW_FIELDS)


def product_detail() -> QuerySet[Product]:
    """Products a visitor may see on their own page: active ones only."""
    return Product.objects.active().select_related("category")


def order_list(*, user=None) -> QuerySet[Order]:
    """Orders, newest first, with their items and the items' products
    prefetched. ``user`` limits them to that user's orders; ``None`` means
    every user's (for staff)."""
    orders = Order.objects.prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product").order_by("id"))
    )
    if user is not None:
        orders = orders.filter(user=user)
    return orders.order_by("-created", "-id")


def order_visible_to(*, user) -> QuerySet[Order]:
    """Orders ``user`` may see: their own, or anyone's for staff."""
    return order_list(user=None if user.is_staff else user)


def order_recent(*, user, limit: int = 10) -> QuerySet[Order]:
    """The latest orders of ``user`` with ``item_count`` (its lines), for the profile page."""
    return (
        Order.objects.filter(user=user)
        .annotate(item_count=Count("items"))
        .order_by("-created", "-id")[:limit]
    )
