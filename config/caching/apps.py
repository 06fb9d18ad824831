from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CachingConfig(AppConfig):
    """Version stamps of the API's tables, kept by database triggers, and the
    conditional GETs built on them (see the package's docstring)."""

    name = "config.caching"
    label = "caching"
    verbose_name = "API caching"

    def ready(self):
        from config.caching.triggers import install_after_migrate

        # Once per migrate (and per test-database flush, which sends it too),
        # after every app's tables exist.
        post_migrate.connect(install_after_migrate, sender=self)
