"""The order confirmation: sent once the order is committed, never for an
order that rolled back; plain text and HTML, with the currency."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction

from catalog import services
from catalog.models import Order
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def shop_settings(settings):
    settings.TAX_RATE = Decimal("0.10")
    settings.CURRENCY_CODE = "EUR"
    settings.CURRENCY_SYMBOL = "€"
    settings.SITE_URL = "https://shop.example"


def place(user, product, quantity=1):
    return services.order_create(user=user, items=[services.OrderLine(product.pk, quantity)])[0]


def test_confirmation_is_sent_on_commit_in_text_and_html(user, django_capture_on_commit_callbacks):
    kettle = make_product(name="Copper Kettle", price=Decimal("1200.00"), stock=3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = place(user, kettle, 2)
        assert mail.outbox == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == f"Reel & Shelf: your order #{order.pk} (€2,640.00)"
    assert "Copper Kettle: 2 × €1,200.00 = €2,400.00" in message.body
    assert "Tax (10%): €240.00" in message.body
    assert "Total: €2,640.00 (EUR)" in message.body
    assert f"https://shop.example/accounts/orders/{order.pk}/" in message.body
    assert " UTC." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>€2,640.00</strong>" in html
    assert f'href="https://shop.example/accounts/orders/{order.pk}/"' in html


def test_no_mail_for_an_order_that_rolled_back(user, django_capture_on_commit_callbacks):
    mug = make_product(stock=3)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        place(user, mug)
        raise RuntimeError("something later in the same transaction failed")
    assert callbacks == []
    assert mail.outbox == []
    assert not Order.objects.exists()


def test_no_mail_when_the_order_is_refused(user, django_capture_on_commit_callbacks):
    mug = make_product(stock=1)
    refused = pytest.raises(services.InsufficientStock)
    with django_capture_on_commit_callbacks(execute=True), refused:
        place(user, mug, 2)
    assert mail.outbox == []


def test_a_replayed_idempotent_order_mails_once(user, django_capture_on_commit_callbacks):
    mug = make_product(stock=3)
    lines = [services.OrderLine(mug.pk, 1)]
    with django_capture_on_commit_callbacks(execute=True):
        services.order_create(user=user, items=lines, idempotency_key="k1")
        services.order_create(user=user, items=lines, idempotency_key="k1")
    assert len(mail.outbox) == 1


def test_a_customer_without_email_gets_none(django_user_model, django_capture_on_commit_callbacks):
    nomail = django_user_model.objects.create_user(username="nomail", password="x-Secret-123")
    with django_capture_on_commit_callbacks(execute=True):
        place(nomail, make_product(stock=2))
    assert mail.outbox == []


def test_a_failing_mail_server_does_not_undo_the_order(
    user, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard: nothing listens, the connection is refused
    settings.EMAIL_TIMEOUT = 2
    mug = make_product(stock=2)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(user, mug)
    assert Order.objects.filter(pk=order.pk).exists()
    assert "send_confirmation" in caplog.text


def test_checkout_on_the_page_mails_the_customer(client, user, django_capture_on_commit_callbacks):
    mug = make_product(name="Ceramic Mug", price=Decimal("12.50"), stock=5)
    client.force_login(user)
    client.post("/cart/add/", {"product": mug.pk, "quantity": 2})
    html = client.get("/checkout/").content.decode()
    token = html.split('name="token" value="', 1)[1].split('"', 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/checkout/", {"token": token})
    (message,) = mail.outbox
    assert "Ceramic Mug: 2 × €12.50 = €25.00" in message.body
