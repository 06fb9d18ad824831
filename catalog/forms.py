from django import forms

from catalog.cart import MAX_CART_QUANTITY


class CartAddForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_CART_QUANTITY,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty-input"}),
    )


class CheckoutForm(forms.Form):
    """Only the one-time token: what is ordered comes from the cart, what it
    costs from the database."""

    token = forms.CharField(max_length=64, widget=forms.HiddenInput)
