"""Sync HTML pages of the catalog: products, the cart, checkout, orders and
the profile. Every write goes through ``catalog.services``, the functions the
API calls too: one definition of placing, pricing and cancelling an order."""

import secrets

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import DetailView, ListView

from catalog import selectors, services
from catalog.cart import Cart, CartFull
from catalog.forms import CartAddForm, CheckoutForm
from catalog.models import Category, Order, Product
from config.text import search_term, without_nul

PRODUCTS_PER_PAGE = 20
ORDERS_PER_PAGE = 20
RECENT_ORDERS = 10
LISTED_FIELDS = ("name", "slug", "price", "stock", "category__name", "category__slug")
# Checkout forms a session may have open at once (several tabs).
OPEN_CHECKOUT_TOKENS = 5
CHECKOUT_TOKENS_KEY = "checkout_tokens"
IDEMPOTENCY_PREFIX = "checkout:"


def product_list(request):
    """Active products with their category (one query per page, plus the
    count), net price and price with tax; filter by ``?category=<slug>`` and
    search with ``?q=``; pagination links keep both."""
    categories = list(Category.objects.order_by("name"))
    params = without_nul(request.GET)
    slug = params.get("category") or None
    # An unknown category lists nothing (200), as /api/products does.
    category = next((c for c in categories if c.slug == slug), None) if slug else None
    q = search_term(params.get("q"))
    # Only what the page shows: descriptions and timestamps cost a noticeable
    # share of the page's CPU to fetch and parse (tests/catalog/test_views.py
    # checks that the query count does not grow with the rows, so a field the
    # template needs and this leaves out shows up as a failure there).
    products = selectors.product_list(category=slug, q=q or None).only(*LISTED_FIELDS)
    page = Paginator(products, PRODUCTS_PER_PAGE).get_page(params.get("page"))
    return render(
        request,
        "catalog/product_list.html",
        {
            "page": page,
            "categories": categories,
            "category": category,
            "q": q,
        },
    )


def product_detail(request, slug):
    product = get_object_or_404(selectors.product_detail(), slug=slug)
    return render(
        request,
        "catalog/product_detail.html",
        {"product": product, "form": CartAddForm(initial={"product": product.pk})},
    )


# The cart.


def _back(request, default: str) -> str:
    """Where a form asked to return to (``next``), if it is on this site."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _cart_page(request, *, form=None, status=200):
    return render(
        request,
        "catalog/cart.html",
        {"cart": Cart(request.session).summary(), "add_form": form},
        status=status,
    )


@never_cache
def cart_detail(request):
    """The cart; a POST changes quantities (``quantity-<id>``, 0 removes) or
    removes one line (``remove=<id>``), then shows the cart again."""
    cart = Cart(request.session)
    if request.method == "POST":
        remove = request.POST.get("remove")
        if remove is not None:
            if remove.isdigit():
                cart.remove(int(remove))
                messages.success(request, "Removed from your cart.")
            return redirect("catalog:cart")
        changed = False
        for product_id, current in cart.quantities().items():
            raw = request.POST.get(f"quantity-{product_id}")
            if raw is None:
                continue
            try:
                quantity = int(raw)
            except ValueError:
                messages.error(request, f"“{raw[:20]}” is not a quantity; nothing changed.")
                return redirect("catalog:cart")
            if quantity != current:
                cart.set(product_id, max(quantity, 0))
                changed = True
        if changed:
            messages.success(request, "Your cart is updated.")
        return redirect("catalog:cart")
    return _cart_page(request)


@require_POST
def cart_add(request):
    """Add a quantity of a product (from the list, ``quantity-<id>``, or the
    product page, ``quantity``), then go back where the shopper was."""
    product_id = request.POST.get("product", "")
    data = {
        "product": product_id,
        "quantity": request.POST.get(f"quantity-{product_id}") or request.POST.get("quantity"),
    }
    form = CartAddForm(data)
    if not form.is_valid():
        return _cart_page(request, form=form, status=400)
    product = Product.objects.filter(pk=form.cleaned_data["product"]).first()
    if product is None or not product.is_active:
        form.add_error("product", "This product is not for sale.")
        return _cart_page(request, form=form, status=400)
    cart = Cart(request.session)
    quantity = cart.quantity_of(product.pk) + form.cleaned_data["quantity"]
    if quantity > product.stock:
        in_cart = cart.quantity_of(product.pk)
        form.add_error(
            "quantity",
            f"Only {product.stock:,} of {product.name} left"
            + (f", and your cart already has {in_cart:,}." if in_cart else "."),
        )
        return _cart_page(request, form=form, status=409)
    try:
        cart.set(product.pk, quantity)
    except CartFull as exc:
        form.add_error(None, str(exc))
        return _cart_page(request, form=form, status=400)
    added = form.cleaned_data["quantity"]
    messages.success(request, f"Added {added:,} × {product.name} to your cart.")
    return HttpResponseRedirect(_back(request, reverse("catalog:cart")))


# Checkout.


@method_decorator(never_cache, name="dispatch")
class CheckoutView(LoginRequiredMixin, View):
    """The review of the cart as the order will be priced, and "Place
    order".

    Each review carries a one-time token, remembered in the session with the
    cart it showed and used as the order's idempotency key
    (``checkout:<token>``): a double click or a reload of the POST finds the
    order that token already placed and shows it, so one review places at
    most one order; a cart changed since (in another tab) is shown for review
    again rather than ordered unseen. Errors (stock, withdrawn products) show
    the review again, naming the line; nothing is placed."""

    def get(self, request):
        if not Cart(request.session).count():
            messages.info(request, "Your cart is empty: add something first.")
            return redirect("catalog:cart")
        return self.review(request)

    def review(self, request, *, error: str = "", problem_product: int | None = None, status=200):
        cart = Cart(request.session).summary()
        token = secrets.token_urlsafe(24)
        tokens = _open_tokens(request)
        tokens[token] = _reviewed(cart)
        request.session[CHECKOUT_TOKENS_KEY] = dict(list(tokens.items())[-OPEN_CHECKOUT_TOKENS:])
        return render(
            request,
            "catalog/checkout.html",
            {
                "cart": cart,
                "form": CheckoutForm(initial={"token": token}),
                "error": error,
                "problem_product": problem_product,
            },
            status=status,
        )

    def post(self, request):
        form = CheckoutForm(request.POST)
        if not form.is_valid():
            return self.review(request, error="This form is incomplete; review and try again.")
        token = form.cleaned_data["token"]
        key = IDEMPOTENCY_PREFIX + token
        placed = Order.objects.filter(user=request.user, idempotency_key=key).first()
        if placed is not None:
            # A reload or a second click: the order this review placed.
            return redirect(placed)
        reviewed = _open_tokens(request).get(token)
        if reviewed is None:
            return self.review(
                request,
                error="This checkout page has expired; review your order and place it again.",
                status=400,
            )
        cart = Cart(request.session).summary()
        if not cart.lines:
            messages.error(request, "Your cart is empty.")
            return redirect("catalog:cart")
        if reviewed != _reviewed(cart):
            return self.review(
                request,
                error="Your cart changed since this page was opened: check the order again.",
                status=409,
            )
        try:
            order, created = services.order_create(
                user=request.user, items=cart.order_lines(), idempotency_key=key
            )
        except services.InsufficientStock as exc:
            name = next(
                line.product.name for line in cart.lines if line.product.pk == exc.product_id
            )
            return self.review(
                request,
                error=(
                    f"Not enough {name} in stock: you asked for {exc.requested:,} "
                    f"and {exc.available:,} {'is' if exc.available == 1 else 'are'} left. "
                    "Nothing was ordered."
                ),
                problem_product=exc.product_id,
                status=409,
            )
        except services.ProductsUnavailable as exc:
            names = ", ".join(
                line.product.name for line in cart.lines if line.product.pk in exc.product_ids
            )
            return self.review(
                request,
                error=f"No longer for sale: {names}. Remove it; nothing was ordered.",
                problem_product=exc.product_ids[0],
                status=409,
            )
        except services.OrderError as exc:
            return self.review(request, error=exc.message, status=400)
        if created:
            Cart(request.session).clear()
            tokens = _open_tokens(request)
            tokens.pop(token, None)
            request.session[CHECKOUT_TOKENS_KEY] = tokens
            messages.success(
                request, f"Thank you: order #{order.pk} is placed. A confirmation is on its way."
            )
        return redirect(order)


def _open_tokens(request) -> dict[str, dict[str, int]]:
    """The session's open checkout tokens, each with the cart it reviewed."""
    tokens = request.session.get(CHECKOUT_TOKENS_KEY)
    return dict(tokens) if isinstance(tokens, dict) else {}


def _reviewed(cart) -> dict[str, int]:
    return {str(line.product.pk): line.quantity for line in cart.lines}


# Orders.


@method_decorator(never_cache, name="dispatch")
class OrderListView(LoginRequiredMixin, ListView):
    """The signed-in user's own orders, newest first. Staff open anyone's
    order page (from the admin); this list stays their own."""

    template_name = "catalog/order_list.html"
    context_object_name = "orders"
    paginate_by = ORDERS_PER_PAGE

    def get_queryset(self):
        return selectors.order_list(user=self.request.user)


@method_decorator(never_cache, name="dispatch")
class OrderDetailView(LoginRequiredMixin, DetailView):
    """One order: the owner's, or anyone's for staff; for anyone else it does
    not exist (404), so order numbers reveal nothing."""

    template_name = "catalog/order_detail.html"
    context_object_name = "order"

    def get_queryset(self):
        return selectors.order_visible_to(user=self.request.user).select_related("user")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_cancel"] = _may_cancel(self.request.user, self.object)
        return context


def _may_cancel(user, order) -> bool:
    """As in the API: the customer, or staff allowed to change orders."""
    return order.status == Order.Status.PENDING and (
        order.user_id == user.pk or user.has_perm("catalog.change_order")
    )


@require_POST
@login_required
def order_cancel(request, pk):
    order = get_object_or_404(selectors.order_visible_to(user=request.user), pk=pk)
    if order.user_id != request.user.pk and not request.user.has_perm("catalog.change_order"):
        raise PermissionDenied("Only the customer, or staff allowed to change orders, may cancel.")
    try:
        services.order_cancel(order=order)
    except services.OrderNotPending as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Order #{order.pk} is cancelled; its items are back in stock.")
    return redirect(order)


@never_cache
@login_required
def profile(request, username=None):
    """The signed-in user's profile. Staff may open anyone's by username;
    for anyone else another user's profile does not exist (404), so neither
    their email nor their orders nor even their existence leaks."""
    viewer = request.user
    if username is None or username == viewer.get_username():
        profile_user = viewer
    elif viewer.is_staff:
        User = get_user_model()
        profile_user = get_object_or_404(User, **{User.USERNAME_FIELD: username})
    else:
        raise Http404("No such profile.")
    return render(
        request,
        "catalog/profile.html",
        {
            "profile_user": profile_user,
            "is_own_profile": profile_user.pk == viewer.pk,
            "orders": selectors.order_recent(user=profile_user, limit=RECENT_ORDERS),
        },
    )
