from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/<str:username>/", views.profile, name="user-profile"),
]
