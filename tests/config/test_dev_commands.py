"""What `make run` runs before serving: the demo data (never over existing
rows) and dev_welcome (the addresses, and a demo user in development only)."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from catalog.models import Category, Product
from catalog.services import OrderLine, order_cancel, order_create
from movies.models import Movie, Person

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_demo_data_fills_an_empty_database():
    out, _ = run("load_demo_data", "--if-empty")
    assert Movie.objects.count() == 11 and Product.objects.count() == 12
    assert Movie.objects.get(slug="the-matrix").director.name == "Lana Wachowski"
    assert "Demo data: added 44 rows, kept 0 that exist." in out


def test_a_restart_keeps_stock_taken_by_orders_and_edits_made_in_the_admin(user):
    run("load_demo_data", "--if-empty")
    mug = Product.objects.get(slug="ceramic-mug")
    orders = [
        order_create(user=user, items=[OrderLine(mug.pk, 1)], idempotency_key=None)[0]
        for _ in range(3)
    ]
    Movie.objects.filter(slug="the-matrix").update(rating=42)

    out, _ = run("load_demo_data", "--if-empty")  # the next `make run`

    assert out.startswith("Demo data not loaded: the database already has")
    mug.refresh_from_db()
    assert mug.stock == 47
    assert Movie.objects.get(slug="the-matrix").rating == 42
    order_cancel(order=orders[0])
    mug.refresh_from_db()
    assert mug.stock == 48


def test_if_empty_loads_nothing_into_a_database_with_catalog_data():
    Category.objects.create(name="Mine", slug="mine")
    run("load_demo_data", "--if-empty")
    assert Movie.objects.count() == 0 and Product.objects.count() == 0


def test_explicit_demo_data_adds_missing_rows_and_changes_none(user):
    run("load_demo_data")
    Product.objects.filter(slug="ceramic-mug").update(stock=3, name="My mug")
    Person.objects.filter(name="Lana Wachowski").update(name="Lana W.")
    Product.objects.filter(slug="desk-lamp").delete()

    out, err = run("load_demo_data")

    assert "Demo data: added 1 rows, kept 43 that exist." in out
    assert err == ""
    mug = Product.objects.get(slug="ceramic-mug")
    assert (mug.stock, mug.name) == (3, "My mug")
    assert Person.objects.filter(name="Lana W.").exists()
    assert Product.objects.filter(slug="desk-lamp").exists()


def test_a_demo_row_whose_slug_is_taken_is_left_out_and_named():
    run("load_demo_data")
    mug = Product.objects.get(slug="ceramic-mug")
    mug_pk = mug.pk
    mug.delete()
    other = Product.objects.exclude(pk=mug_pk).first()
    Product.objects.create(category=other.category, name="Mine", slug="ceramic-mug", price=1)

    out, err = run("load_demo_data")

    assert "added 0 rows" in out
    assert f"Left out product {mug_pk} (Ceramic Mug)" in err
    assert Product.objects.get(slug="ceramic-mug").name == "Mine"


def test_rows_added_after_demo_data_get_new_ids():
    run("load_demo_data")
    category = Category.objects.create(name="New", slug="new")
    assert category.pk > 4


@override_settings(DEBUG=True)
def test_dev_welcome_creates_a_demo_superuser_once_and_prints_the_way_in():
    out, _ = run("dev_welcome", "--port", "9123")
    assert "site      http://127.0.0.1:9123/" in out
    assert "admin     http://127.0.0.1:9123/admin/" in out
    assert "API docs  http://127.0.0.1:9123/api/docs" in out
    password = out.split("with password '", 1)[1].split("'", 1)[0]
    demo = authenticate(username="demo", password=password)
    assert demo is not None and demo.is_superuser and demo.is_staff

    again, _ = run("dev_welcome")
    assert get_user_model().objects.count() == 1
    assert password not in again
    assert "changepassword demo" in again


@override_settings(DEBUG=True)
def test_dev_welcome_creates_no_user_when_there_is_one(user):
    out, _ = run("dev_welcome")
    assert get_user_model().objects.count() == 1
    assert "Sign in with your user" in out


def test_dev_welcome_refuses_with_debug_off():
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        run("dev_welcome")
    assert not get_user_model().objects.exists()
