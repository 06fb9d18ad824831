from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConfigConfig(AppConfig):
    """The project package doubles as a small app holding cross-cutting models
    (API tokens, rate counters), so the fixed top-level layout needs no extra
    folder."""

    default = True  # this module holds ProjectAdminConfig too
    name = "config"
    verbose_name = "API access"

    def ready(self):
        from config import checks, deploy_checks  # noqa: F401  (registers system checks)


class ProjectAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site as ``admin.site``, so every
    app's ``@admin.register`` lands on it."""

    default = False
    default_site = "config.accounts.ProjectAdminSite"
