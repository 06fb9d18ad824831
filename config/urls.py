from django.contrib import admin
from django.urls import include, path, re_path

from config import views
from config.api import api, api_not_found

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("robots.txt", views.robots_txt),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api(?:/(?P<unmatched_path>.*))?$", api_not_found),
    path("accounts/", include("django.contrib.auth.urls")),
    path("movies/", include("movies.urls")),
    path("", include("catalog.urls")),
]
