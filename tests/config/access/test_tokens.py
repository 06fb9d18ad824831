"""API tokens: stored hashed, checked on every write, created by a command,
revoked in the admin.

A protected endpoint tells the outcome apart: 401 means the token was not
accepted, 403 means it was (its user lacks the permission to create movies).
"""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.access.models import ApiToken, api_token_create

pytestmark = pytest.mark.django_db(transaction=True)

PROTECTED = "/api/movies"
# A valid body, so that only authentication and permission decide the status.
MOVIE = {"title": "Token Test", "release_date": "2000-01-01", "rating": 50, "duration": "01:30:00"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def call_with(async_client, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await async_client.post(
        PROTECTED, data=MOVIE, content_type="application/json", headers=headers
    )


def test_only_a_hash_of_the_token_is_stored(user):
    token, raw = api_token_create(user=user, name="laptop")
    token.refresh_from_db()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert len(token.prefix) == 8 and token.prefix in raw
    stored = [str(value) for value in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert all(raw not in value for value in stored)
    assert not ApiToken.objects.filter(token_hash=raw).exists()


def test_tokens_are_unique_and_unguessable(user):
    raws = {api_token_create(user=user)[1] for _ in range(20)}
    assert len(raws) == 20
    assert all(len(raw) >= 40 for raw in raws)


async def test_a_valid_token_authenticates_and_records_its_use(async_client, user, user_token):
    response = await call_with(async_client, user_token)
    assert response.status_code == 403
    assert "movies.add_movie" in response.json()["detail"]
    token = await ApiToken.objects.aget(user=user)
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "token",
    [None, "", "not-a-token", "x" * 500],
    ids=["no header", "empty", "unknown", "overlong"],
)
async def test_missing_or_unknown_token_is_401(async_client, token):
    response = await call_with(async_client, token)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_last_use_is_written_at_most_once_per_window(client, user, user_token):
    """Every call checks the token; only the first in a window writes."""
    headers = {"Authorization": f"Bearer {user_token}"}

    def token_writes():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/orders", headers=headers).status_code == 200
        return [
            q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "apitoken" in q["sql"]
        ]

    assert len(token_writes()) == 1
    assert token_writes() == []
    first_use = ApiToken.objects.get(user=user).last_used_at
    ApiToken.objects.filter(user=user).update(last_used_at=first_use - timedelta(minutes=6))
    assert len(token_writes()) == 1
    assert ApiToken.objects.get(user=user).last_used_at > first_use


async def test_the_hash_itself_is_not_a_token(async_client, user, user_token):
    token = await ApiToken.objects.aget(user=user)
    assert (await call_with(async_client, token.token_hash)).status_code == 401


async def test_revoked_token_is_401(async_client, user, user_token):
    await ApiToken.objects.filter(user=user).aupdate(revoked_at=timezone.now())
    assert (await call_with(async_client, user_token)).status_code == 401


async def test_expired_token_is_401_and_a_future_expiry_is_fine(async_client, user, user_token):
    tokens = ApiToken.objects.filter(user=user)
    await tokens.aupdate(expires_at=timezone.now() + timedelta(hours=1))
    assert (await call_with(async_client, user_token)).status_code == 403
    await tokens.aupdate(expires_at=timezone.now() - timedelta(seconds=1))
    assert (await call_with(async_client, user_token)).status_code == 401


async def test_token_of_a_deactivated_user_is_401(async_client, user, user_token):
    user.is_active = False
    await user.asave()
    assert (await call_with(async_client, user_token)).status_code == 401


async def test_create_api_token_prints_a_working_token_once(async_client, user):
    out, err = StringIO(), StringIO()
    await sync_to_async(call_command)(
        "create_api_token", "alice", "--name", "ci", stdout=out, stderr=err
    )
    raw = out.getvalue().strip()
    assert len(raw.splitlines()) == 1
    assert "cannot be shown again" in err.getvalue()
    token = await ApiToken.objects.aget(user=user)
    assert token.name == "ci"
    assert token.expires_at is None
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (await call_with(async_client, raw)).status_code == 403


def test_create_api_token_with_an_expiry(user):
    out = StringIO()
    call_command(
        "create_api_token", "alice", "--expires-in-days", "30", stdout=out, stderr=StringIO()
    )
    token = ApiToken.objects.get(user=user)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No user named 'nobody'"),
        (["alice", "--expires-in-days", "0"], "must be a positive number"),
    ],
)
def test_create_api_token_refuses_bad_input(user, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


async def test_admin_lists_and_revokes_tokens(async_client, admin_user, user, user_token):
    other, other_raw = await sync_to_async(api_token_create)(user=user, name="keep")
    target = await ApiToken.objects.exclude(pk=other.pk).aget(user=user)
    await sync_to_async(async_client.force_login)(admin_user)

    listing = await async_client.get("/admin/config/apitoken/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert target.prefix in page and other.prefix in page
    assert target.token_hash not in page

    response = await async_client.post(
        "/admin/config/apitoken/",
        {"action": "revoke", "_selected_action": [target.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Revoked 1 token(s)." in response.content.decode()
    assert (await ApiToken.objects.aget(pk=target.pk)).revoked_at is not None
    assert (await call_with(async_client, user_token)).status_code == 401
    # The other token is untouched.
    assert (await ApiToken.objects.aget(pk=other.pk)).revoked_at is None
    assert (await call_with(async_client, other_raw)).status_code == 403


def test_admin_cannot_add_tokens_it_could_never_show(admin_client):
    assert admin_client.get("/admin/config/apitoken/add/").status_code == 403
