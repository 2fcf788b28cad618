"""REST endpoints of chats and messages (owned by the chat UI)."""

urlpatterns: list = []
