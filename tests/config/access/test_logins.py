"""Login limits that hold against an attacker: the count of one user name's
failures cannot be raced past, and one address cannot try every user name.
(test_abuse_limits.py has the limits as a visitor meets them.)"""

import threading
import time

import pytest
from django.contrib.auth import forms as auth_forms
from django.db import connection
from django.test import Client, RequestFactory

from config.access.logins import LoginForm

pytestmark = pytest.mark.django_db(transaction=True)

GUESSES = 30


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(client: Client, username: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://…): SQLite runs one write at a "
    "time, so the race cannot happen there; CI runs it on PostgreSQL",
)
def test_concurrent_wrong_passwords_for_one_user_get_only_the_limit_of_checks(
    settings, monkeypatch, user
):
    settings.LOGIN_THROTTLE = "5/15min"
    settings.LOGIN_THROTTLE_ADDRESS = "off"
    checks = []
    real_authenticate = auth_forms.authenticate

    def slow_authenticate(*args, **kwargs):
        checks.append(kwargs.get("username"))
        time.sleep(0.05)  # a real hasher's time: every guess is in flight at once
        return real_authenticate(*args, **kwargs)

    monkeypatch.setattr(auth_forms, "authenticate", slow_authenticate)
    start = threading.Barrier(GUESSES)
    throttled = []

    def guess(number: int) -> None:
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="10.20.30.40")
        form = LoginForm(request, data={"username": "alice", "password": f"wrong-{number}"})
        start.wait(timeout=30)
        try:
            assert not form.is_valid()
            if form.is_throttled():
                throttled.append(number)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(checks) == 5, f"{len(checks)} passwords checked"
    assert len(throttled) == GUESSES - 5
    # The owner, from elsewhere, still gets in.
    assert login(Client(), "alice", "correct-horse-battery", "10.9.8.7").status_code == 302


def test_one_address_cannot_try_every_user_name(settings, user):
    settings.LOGIN_THROTTLE = "5/15min"
    settings.LOGIN_THROTTLE_ADDRESS = "4/15min"
    client = Client()
    for name in ("bob", "carol", "dave", "erin"):  # one guess each, no name twice
        response = login(client, name, "guess", "10.1.1.1")
        assert response.status_code == 200
        assert b"correct username and password" in response.content
    refused = login(client, "alice", "correct-horse-battery", "10.1.1.1")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 900
    assert "Too many failed attempts, try again in" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is counted apart.
    other = Client()
    assert login(other, "alice", "correct-horse-battery", "10.2.2.2").status_code == 302


def test_logging_in_is_not_counted_against_the_address(settings, user):
    settings.LOGIN_THROTTLE_ADDRESS = "2/15min"
    client = Client()
    for _ in range(4):
        assert login(client, "alice", "correct-horse-battery", "10.3.3.3").status_code == 302
        client.logout()
    # Nor does it take back the failures before it.
    assert login(client, "nobody", "guess", "10.3.3.3").status_code == 200
    assert login(client, "alice", "correct-horse-battery", "10.3.3.3").status_code == 302
    client.logout()
    assert login(client, "someone", "guess", "10.3.3.3").status_code == 200
    assert login(client, "alice", "correct-horse-battery", "10.3.3.3").status_code == 429
