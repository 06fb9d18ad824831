from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("checkout/", views.CheckoutView.as_view(), name="checkout"),
    path("accounts/orders/", views.OrderListView.as_view(), name="order-list"),
    path("accounts/orders/<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("accounts/orders/<int:pk>/cancel/", views.order_cancel, name="order-cancel"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/<str:username>/", views.profile, name="user-profile"),
]
