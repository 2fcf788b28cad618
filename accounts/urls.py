"""Sign-up, log-in, log-out and settings pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/keys/<uuid:key_id>/revoke", views.revoke_key, name="revoke-key"),
    path("settings/delete-account", views.delete_account, name="delete-account"),
    path("settings/password", views.change_password, name="change-password"),
]
