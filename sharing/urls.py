from django.urls import path

from . import views

urlpatterns = [
    path("s/<str:share_id>", views.share_page, name="share-page"),
    path("s/<str:share_id>/data", views.share_data, name="share-data"),
    path("settings/shares/<str:share_id>/revoke", views.revoke_from_settings, name="revoke-share"),
]
