"""Web UI pages (owned by the chat UI)."""

urlpatterns: list = []
