"""REST endpoints of chats and messages."""

from django.urls import path

from . import api

urlpatterns = [
    path("chats", api.ChatsView.as_view(), name="chats"),
    path("embeds", api.GalleryView.as_view(), name="gallery-embeds"),
    path("chats/<str:chat_id>", api.ChatView.as_view(), name="chat"),
    path("chats/<str:chat_id>/messages", api.MessagesView.as_view(), name="chat-messages"),
]
