from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.defaultfilters import pluralize

from catalog import services
from catalog.models import Category, Order, OrderItem, Product
from catalog.pricing import format_money, price_with_tax
from catalog.templatetags.catalog import percent


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(product_count=Count("products", filter=Q(products__is_active=True)))
        )

    @admin.display(description="active products", ordering="product_count")
    def product_count(self, obj):
        return obj.product_count


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "net_price", "price_with_tax", "stock", "is_active"]
    list_filter = ["is_active", "category"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description", "category__name"]
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ["price_with_tax", "created", "updated"]
    fields = [
        "name",
        "slug",
        "category",
        "description",
        "price",
        "price_with_tax",
        "stock",
        "is_active",
        "created",
        "updated",
    ]
    actions = ["activate", "deactivate"]
    list_per_page = 50

    @admin.display(description="price", ordering="price")
    def net_price(self, obj):
        return format_money(obj.price)

    @admin.display(description="price with tax", ordering="price")
    def price_with_tax(self, obj):
        return format_money(price_with_tax(obj.price)) if obj.price is not None else "—"

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, active: bool):
        count = queryset.exclude(is_active=active).update(is_active=active)
        state = "activated" if active else "deactivated"
        self.message_user(
            request,
            f"{count} product{pluralize(count)} {state}.",
            messages.SUCCESS,
        )


class OrderItemInline(admin.TabularInline):
    """Items as placed: prices and quantities are history, not editable."""

    model = OrderItem
    # A tuple, so the one value types as both fields and readonly_fields
    # (django-stubs gives them different element types; a list is invariant).
    readonly_fields = ("product", "quantity", "unit_price", "line_total")
    fields = readonly_fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # The items are part of the order: whoever may see it sees them.
        opts = Order._meta
        return request.user.has_perm(f"{opts.app_label}.view_order") or request.user.has_perm(
            f"{opts.app_label}.change_order"
        )

    @admin.display(description="line total")
    def line_total(self, obj):
        return obj.line_total


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are placed through the API and change state only through the
    services (which keep stock right), so nothing here edits them directly:
    no add, no delete, read-only fields, and actions that call the services."""

    list_display = ["id", "user", "status", "item_count", "total_display", "created"]
    list_filter = ["status", "created"]
    list_select_related = ["user"]
    search_fields = ["=id", "user__username", "user__email", "idempotency_key"]
    date_hierarchy = "created"
    inlines = [OrderItemInline]
    readonly_fields = (
        "user",
        "status",
        "subtotal",
        "tax_percent",
        "tax",
        "total",
        "idempotency_key",
        "created",
        "updated",
    )
    fields = readonly_fields
    actions = ["mark_paid", "cancel"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # An order's own page is view-only, with no Save buttons; the change
        # permission still allows the list's actions, which call the services.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    @admin.display(description="tax rate")
    def tax_percent(self, obj):
        return percent(obj.tax_rate)  # as the site writes it: 0.1000 → "10%"

    @admin.display(description="total", ordering="total")
    def total_display(self, obj):
        return format_money(obj.total)

    @admin.display(description="lines", ordering="item_count")
    def item_count(self, obj):
        return obj.item_count

    @admin.action(description="Mark selected pending orders as paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        self._apply(request, queryset, services.order_mark_paid, "marked paid")

    @admin.action(
        description="Cancel selected pending orders (restores stock)", permissions=["change"]
    )
    def cancel(self, request, queryset):
        self._apply(request, queryset, services.order_cancel, "cancelled")

    def _apply(self, request, queryset, service, done: str):
        changed, skipped = 0, []
        for order in queryset.order_by("pk"):
            try:
                service(order=order)
            except services.OrderNotPending:
                skipped.append(order.pk)
            else:
                changed += 1
        if changed:
            self.message_user(
                request,
                f"{changed} order{pluralize(changed)} {done}.",
                messages.SUCCESS,
            )
        if skipped:
            listed = ", ".join(f"#{pk}" for pk in skipped)
            self.message_user(request, f"Not pending, left unchanged: {listed}.", messages.WARNING)
