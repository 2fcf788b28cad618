"""Web UI pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.app, name="app"),
    path("c/<uuid:chat_id>", views.app, name="chat-page"),
    path("gallery", views.gallery, name="gallery"),
]
