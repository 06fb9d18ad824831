from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectConfig(AppConfig):
    """The project package as an app: its static files (the site's stylesheet)
    and the ``load_demo_data`` command. It holds no models; API tokens and
    rate counters belong to ``config.access``."""

    name = "config"
    label = "project"
    verbose_name = "Reel & Shelf"

    def ready(self):
        # System checks: a mistyped rate stops start-up (config.access), and
        # the runtime's stand-ins keep `check --deploy` complete (config.runtime).
        from config.access import checks as access_checks  # noqa: F401
        from config.runtime import checks as runtime_checks  # noqa: F401


class ProjectAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with our site as ``admin.site``, so every
    app's ``@admin.register`` lands on it."""

    default = False
    default_site = "config.access.logins.ProjectAdminSite"
