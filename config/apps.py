from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project package doubles as a small app holding cross-cutting models
    (API tokens), so the fixed top-level layout needs no extra folder."""

    name = "config"
    verbose_name = "API access"
