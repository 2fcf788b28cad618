"""Sign-up, log-in, log-out and settings pages (owned by the chat UI)."""

urlpatterns: list = []
