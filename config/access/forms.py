from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

# How long a new API token lives; "never" is a choice, not the default.
TOKEN_LIFETIMES = {
    "30": timedelta(days=30),
    "90": timedelta(days=90),
    "365": timedelta(days=365),
    "never": None,
}


class SignUpForm(UserCreationForm):
    """Username, email and a password checked by AUTH_PASSWORD_VALIDATORS
    (Django's ``UserCreationForm`` runs them, with the user's name and email
    for the similarity check). One account per email address, since password
    reset mails every account with it."""

    email = forms.EmailField(
        required=True, help_text="For order confirmations and password resets."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if get_user_model()._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email exists already: log in, or reset its password."
            )
        return email


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What it is for, e.g. “laptop script”; only you see it.",
    )
    lifetime = forms.ChoiceField(
        label="Expires",
        choices=[
            ("30", "in 30 days"),
            ("90", "in 90 days"),
            ("365", "in a year"),
            ("never", "never"),
        ],
        initial="90",
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name
