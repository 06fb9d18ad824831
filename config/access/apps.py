from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Who may call and how often: API tokens and rate counters.

    The label stays ``config``, the app these models were first created in,
    so their tables (``config_apitoken``, ``config_ratecounter``), migrations,
    content types and permissions carry over unchanged."""

    name = "config.access"
    label = "config"
    verbose_name = "API access"
