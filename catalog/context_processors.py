from django.conf import settings

from catalog.cart import Cart


def shop(request):
    """The cart's unit count for the header, and the currency code.

    A visitor without a session cookie has an empty cart: the session is not
    even opened, so pages for them stay cookie-free and cacheable."""
    cart_count = 0
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        cart_count = Cart(request.session).count()
    return {"cart_count": cart_count, "currency_code": settings.CURRENCY_CODE}
