"""Fixtures shared by the whole suite: users, API tokens, clients."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import AsyncClient, Client

from config.access import ratelimit
from config.access.models import api_token_create
from config.runtime import native_db


@pytest.fixture(autouse=True)
async def release_async_connections():
    """Async ORM calls made by a test body run on asgiref's shared thread and
    keep that thread's connection checked out of the pool (no request ends to
    return it); the native async pool belongs to the test's event loop. Give
    both back after each test, or PostgreSQL refuses to drop the test database."""
    native_db.bind_to_running_loop()  # as the server's lifespan startup does
    yield
    await sync_to_async(connections.close_all)()
    await native_db.close_pool()


@pytest.fixture(autouse=True)
def forget_refused_clients():
    """Each test starts with an empty database: no client is over a limit."""
    ratelimit.forget_refusals()


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def async_client():
    return AsyncClient()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password="correct-horse-battery"
    )


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(
        username="bob", email="bob@example.com", password="correct-horse-battery"
    )


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff",
        email="staff@example.com",
        password="correct-horse-battery",
        is_staff=True,
    )


def grant(user, *perms: str):
    """Give ``user`` permissions named like "movies.add_movie"."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


@pytest.fixture
def user_token(user):
    """A raw API token for ``user`` (no extra permissions)."""
    _, raw = api_token_create(user=user, name="tests")
    return raw


@pytest.fixture
def auth_headers(user_token):
    return {"Authorization": f"Bearer {user_token}"}
