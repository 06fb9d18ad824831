from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Category, Product
from config.management.commands.load_demo_data import DEMO_FIXTURES

pytestmark = pytest.mark.django_db


def seed(*args):
    out = StringIO()
    call_command("seed_catalog", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return list(
        Product.objects.order_by("slug").values_list(
            "slug", "name", "price", "stock", "is_active", "category__slug"
        )
    )


def test_seed_catalog_creates_products_in_categories():
    output = seed("--products", "250", "--seed", "3")
    assert Product.objects.count() == 250
    assert Category.objects.count() == 8
    assert "Created 250 products" in output
    assert Product.objects.filter(is_active=True).exists()
    assert all(p.price > 0 and p.stock >= 0 for p in Product.objects.all())


def test_seed_catalog_is_deterministic():
    seed("--products", "40", "--seed", "7")
    first = snapshot()
    Product.objects.all().delete()
    seed("--products", "40", "--seed", "7")
    assert snapshot() == first
    Product.objects.all().delete()
    seed("--products", "40", "--seed", "8")
    assert [row[1:] for row in snapshot()] != [row[1:] for row in first]


def test_rerunning_seed_catalog_adds_only_what_is_missing():
    seed("--products", "30", "--seed", "1")
    first = snapshot()
    output = seed("--products", "30", "--seed", "1")
    assert "Created 0 products (30 already there)" in output
    assert snapshot() == first
    seed("--products", "45", "--seed", "1")
    assert Product.objects.count() == 45
    # The first 30 are the same products: product i does not depend on N.
    assert set(first) <= set(snapshot())
    seed("--products", "10", "--seed", "2")
    assert Product.objects.count() == 55


def test_seed_catalog_rejects_a_negative_count():
    with pytest.raises(CommandError):
        seed("--products", "-1")


def test_demo_data_loads_the_catalog_with_fixed_ids_and_reloads_in_place():
    assert ("catalog", "catalog_demo.json") in DEMO_FIXTURES  # what `make run` loads
    call_command("loaddata", "catalog_demo", verbosity=0)
    categories, products = Category.objects.count(), Product.objects.count()
    assert categories >= 3 and products >= 10
    assert Product.objects.filter(is_active=False).exists()
    assert Product.objects.filter(stock=0, is_active=True).exists()
    assert Product.objects.get(pk=1).category_id is not None
    call_command("loaddata", "catalog_demo", verbosity=0)
    assert (Category.objects.count(), Product.objects.count()) == (categories, products)
