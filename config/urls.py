from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config import views
from config.access.logins import LoginView
from config.api import api, api_not_found

urlpatterns = [
    # The API first: Django tries the patterns in order on every request, and
    # none of the others matches a path under api/.
    path("api/", api.urls),
    re_path(r"^api(?:/(?P<unmatched_path>.*))?$", api_not_found),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("robots.txt", views.robots_txt),
    # For whatever asks without reading a page's <link rel="icon">.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    # Ours first: the same login page, with failed attempts throttled.
    path("accounts/login/", LoginView.as_view(), name="login"),
    # Sign up, the throttled password reset, API tokens (config/access/urls.py).
    path("accounts/", include("config.access.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("movies/", include("movies.urls")),
    path("", include("catalog.urls")),
]

# JSON under /api/, plain pages elsewhere; a database outage is a 503.
handler400 = "config.views.bad_request"
handler500 = "config.views.server_error"
