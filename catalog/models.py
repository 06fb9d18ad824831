"""Products, categories and orders.

Invariants live in the database as well as in code: stock and prices cannot go
negative and quantities cannot be zero even if a bug (or a hand-written UPDATE)
tries, so they hold for every process and host that shares the database.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from catalog.pricing import price_with_tax


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> "ProductQuerySet":
        return self.filter(is_active=True)


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0), name="catalog_product_price_non_negative"
            ),
            # PositiveIntegerField adds an unnamed check too; this one is named
            # so that the guarantee is visible here and in migrations.
            models.CheckConstraint(
                condition=Q(stock__gte=0), name="catalog_product_stock_non_negative"
            ),
        ]
        indexes = [
            # The product list: active products in name order, by category.
            models.Index(fields=["is_active", "name"], name="catalog_prod_active_name"),
            models.Index(fields=["category", "is_active", "name"], name="catalog_prod_cat_active"),
            models.Index(fields=["is_active", "price"], name="catalog_prod_active_price"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:product-detail", args=[self.slug])

    @property
    def price_with_tax(self) -> Decimal:
        return price_with_tax(self.price)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class Order(models.Model):
    Status = OrderStatus

    # PROTECT: orders are the shop's records; deleting a customer must not
    # silently delete what they bought.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # Up to 100 lines of 1,000 units at the largest product price fit.
    subtotal = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, help_text="The tax rate in force when the order was placed."
    )
    tax = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    # NULL, not "", for "no key": NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255,
        null=True,
        blank=True,
        help_text="The client's Idempotency-Key header: a retry with the same key "
        "returns this order instead of placing another.",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # Two requests with the same key racing each other: the second
            # insert fails here and the service returns the first order.
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="catalog_order_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values),
                name="catalog_order_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(tax__gte=0) & Q(total__gte=0),
                name="catalog_order_amounts_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created"], name="catalog_order_user_created")]

    def __str__(self):
        return f"Order #{self.pk}"

    def get_absolute_url(self):
        return reverse("catalog:order-detail", args=[self.pk])


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Net price per unit when the order was placed."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="catalog_orderitem_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="catalog_orderitem_unit_price_non_negative"
            ),
            models.UniqueConstraint(
                fields=["order", "product"], name="catalog_orderitem_unique_product"
            ),
        ]

    def __str__(self):
        # The admin labels each item row with this: "2 × Ceramic Mug".
        return f"{self.quantity} × {self.product.name}"

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price
