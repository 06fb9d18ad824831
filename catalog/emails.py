"""Mail the catalog sends: the order confirmation, in plain text and HTML."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from catalog import selectors

logger = logging.getLogger(__name__)


def order_confirmation_send(*, order_id: int) -> bool:
    """Mail the customer what they ordered, at what price, and where to see
    it. Called once the order is committed (``transaction.on_commit`` in
    ``services``); a customer without an email address gets none. Returns
    whether a mail was sent."""
    order = selectors.order_list().select_related("user").get(pk=order_id)
    if not order.user.email:
        logger.info("Order %s placed by a user without an email address: no confirmation", order_id)
        return False
    context = {
        "order": order,
        "user": order.user,
        "order_url": settings.SITE_URL + reverse("catalog:order-detail", args=[order.pk]),
        "currency_code": settings.CURRENCY_CODE,
    }
    subject = render_to_string("catalog/email/order_confirmation_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("catalog/email/order_confirmation.txt", context),
        to=[order.user.email],
    )
    message.attach_alternative(
        render_to_string("catalog/email/order_confirmation.html", context), "text/html"
    )
    message.send()
    return True
