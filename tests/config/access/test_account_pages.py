"""Account self-service: sign up, password change and reset (with its mails
and its rate limit), and the API tokens page."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from config.access.models import ApiToken, api_token_create, hash_token
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "Tangerine-Sextant-42"


# Sign up.


def test_sign_up_creates_the_account_logs_in_and_keeps_the_cart(client):
    mug = make_product(stock=3)
    client.post("/cart/add/", {"product": mug.pk, "quantity": 2})
    page = client.get("/accounts/signup/?next=/checkout/")
    assert page.status_code == 200
    assert '<label for="id_username">' in page.content.decode()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "next": "/checkout/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/checkout/"
    user = get_user_model().objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert user.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["cart"] == {str(mug.pk): 2}


def test_sign_up_applies_the_password_validators_and_ties_errors_to_fields(client, user):
    response = client.post(
        "/accounts/signup/",
        {"username": "dave", "email": "alice@example.com", "password1": "123", "password2": "123"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "This password is too short." in html
    assert "This password is entirely numeric." in html
    assert "An account with this email exists already" in html
    assert 'aria-describedby="id_password2_helptext id_password2_errors"' in html
    assert 'id="id_password2_errors"' in html
    assert 'aria-invalid="true"' in html
    assert 'role="alert"' in html
    assert not get_user_model().objects.filter(username="dave").exists()


def test_sign_up_is_rate_limited_per_address(client, settings):
    settings.SIGNUP_THROTTLE = "2/hour"
    for n in range(2):
        data = {"username": f"u{n}", "email": f"u{n}@example.com"}
        data |= {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        assert client.post("/accounts/signup/", data).status_code == 302
        client.logout()
    data = {"username": "u9", "email": "u9@example.com"}
    data |= {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    response = client.post("/accounts/signup/", data)
    assert response.status_code == 429
    assert "Too many sign-ups, try again in" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert not get_user_model().objects.filter(username="u9").exists()


# Password change and reset.


def test_password_change_in_the_sites_layout(client, user):
    client.force_login(user)
    page = client.get("/accounts/password_change/")
    assert page.status_code == 200
    assert "Change your password" in page.content.decode()
    assert 'class="site-header"' in page.content.decode()
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == "/accounts/password_change/done/"
    assert "Password changed" in client.get(response["Location"]).content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_mails_a_link_that_sets_a_new_password(client, user):
    page = client.get("/accounts/password_reset/")
    assert 'class="site-header"' in page.content.decode()
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response["Location"] == "/accounts/password_reset/done/"
    assert "Check your mail" in client.get(response["Location"]).content.decode()
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reel & Shelf: reset your password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and link in html
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done["Location"] == "/accounts/reset/done/"
    assert "Password set" in client.get(done["Location"]).content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # The link works once.
    assert "This link does not work" in client.get(link, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_mails_nobody(client):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


def test_password_reset_is_rate_limited_per_address_and_per_email(client, user, settings):
    settings.PASSWORD_RESET_THROTTLE = "2/hour"
    for _ in range(2):
        assert (
            client.post("/accounts/password_reset/", {"email": "alice@example.com"}).status_code
            == 302
        )
    response = client.post("/accounts/password_reset/", {"email": "other@example.com"})
    assert response.status_code == 429
    assert "Too many reset requests, try again in" in response.content.decode()
    assert len(mail.outbox) == 2
    # The same mailbox from another address is limited too.
    other = client.__class__(REMOTE_ADDR="10.0.0.9")
    response = other.post("/accounts/password_reset/", {"email": "ALICE@example.com"})
    assert response.status_code == 429
    assert len(mail.outbox) == 2


# API tokens.


def test_the_token_page_needs_a_login(client):
    assert client.get("/accounts/tokens/")["Location"] == "/accounts/login/?next=/accounts/tokens/"


def test_create_a_token_shown_once_stored_hashed_and_usable(client, user):
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "laptop script", "lifetime": "30"})
    assert response["Location"] == "/accounts/tokens/"
    response = client.get("/accounts/tokens/")
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = re.search(r'id="new-token" class="token-value" value="([^"]+)"', html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.name == "laptop script"
    assert token.token_hash == hash_token(raw)
    assert raw not in {token.prefix, token.token_hash}
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    # Shown once: neither the session nor the list afterwards has it.
    assert "new_api_token" not in client.session
    listing = client.get("/accounts/tokens/").content.decode()
    assert "laptop script" in listing and token.prefix in listing
    assert raw not in listing
    assert " UTC</time>" in listing
    # It works on the API, and its use is recorded.
    api = client.__class__()
    assert api.get("/api/orders", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_revoking_takes_effect_at_once_on_the_api(client, user):
    client.force_login(user)
    client.post("/accounts/tokens/", {"name": "ci", "lifetime": "never"})
    html = client.get("/accounts/tokens/").content.decode()
    raw = re.search(r'class="token-value" value="([^"]+)"', html).group(1)
    headers = {"Authorization": f"Bearer {raw}"}
    api = client.__class__()
    assert api.get("/api/orders", headers=headers).status_code == 200
    token = ApiToken.objects.get(user=user)
    assert token.expires_at is None
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response["Location"] == "/accounts/tokens/"
    assert api.get("/api/orders", headers=headers).status_code == 401
    assert "Revoked" in client.get("/accounts/tokens/").content.decode()


def test_another_users_token_cannot_be_revoked(client, user, other_user):
    token, _ = api_token_create(user=other_user, name="bobs-secret-script")
    client.force_login(user)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "bobs-secret-script" not in client.get("/accounts/tokens/").content.decode()


def test_a_token_needs_a_name_and_a_known_lifetime(client, user):
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "  ", "lifetime": "forever"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name_errors"' in html and 'id="id_lifetime_errors"' in html
    assert not ApiToken.objects.exists()


def test_token_creation_is_rate_limited_per_user(client, user, settings):
    settings.TOKEN_CREATE_THROTTLE = "2/hour"
    client.force_login(user)
    for n in range(2):
        assert (
            client.post("/accounts/tokens/", {"name": f"t{n}", "lifetime": "30"}).status_code == 302
        )
    response = client.post("/accounts/tokens/", {"name": "t3", "lifetime": "30"})
    assert response.status_code == 429
    assert "Too many new tokens, try again in" in response.content.decode()
    assert ApiToken.objects.count() == 2


def test_reloading_after_creating_a_token_makes_no_second_one(client, user):
    client.force_login(user)
    response = client.post("/accounts/tokens/", {"name": "once", "lifetime": "90"}, follow=True)
    assert 'id="new-token"' in response.content.decode()
    again = client.get("/accounts/tokens/")  # the reload, after the redirect
    assert 'id="new-token"' not in again.content.decode()
    assert ApiToken.objects.count() == 1
