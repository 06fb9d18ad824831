import time

import pytest
from django.db import OperationalError

from config import views

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_answers_while_process_lives(async_client):
    response = await async_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_ok_when_database_answers(async_client):
    response = await async_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_503_with_reason_when_database_unreachable(async_client, monkeypatch):
    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "_ping_database", refuse)
    response = await async_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "OperationalError" in body["detail"]


async def test_readyz_gives_up_on_a_hanging_database(async_client, monkeypatch, settings):
    settings.READYZ_TIMEOUT = 0.2
    monkeypatch.setattr(views, "_ping_database", lambda: time.sleep(1.5))
    started = time.monotonic()
    response = await async_client.get("/readyz")
    assert response.status_code == 503
    assert "in time" in response.json()["detail"]
    assert time.monotonic() - started < 1.2
