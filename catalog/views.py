"""Sync HTML pages of the catalog: the product list and the profile page."""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from catalog import selectors
from catalog.models import Category
from config.text import search_term

PRODUCTS_PER_PAGE = 20
RECENT_ORDERS = 10
LISTED_FIELDS = ("name", "slug", "price", "stock", "category__name", "category__slug")


def product_list(request):
    """Active products with their category (one query per page, plus the
    count), net price and price with tax; filter by ``?category=<slug>`` and
    search with ``?q=``; pagination links keep both."""
    categories = list(Category.objects.order_by("name"))
    slug = request.GET.get("category") or None
    # An unknown category lists nothing (200), as /api/products does.
    category = next((c for c in categories if c.slug == slug), None) if slug else None
    q = search_term(request.GET.get("q"))
    # Only what the page shows: descriptions and timestamps cost a noticeable
    # share of the page's CPU to fetch and parse (tests/catalog/test_views.py
    # checks that the query count does not grow with the rows, so a field the
    # template needs and this leaves out shows up as a failure there).
    products = selectors.product_list(category=slug, q=q or None).only(*LISTED_FIELDS)
    page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
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
    return render(request, "catalog/product_detail.html", {"product": product})


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
