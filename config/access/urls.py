"""Account pages; included under /accounts/ before Django's auth URLs, so
these win where the paths meet (password_reset)."""

from django.urls import path

from config.access import views

urlpatterns = [
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("tokens/", views.ApiTokensView.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="api-token-revoke"),
]
