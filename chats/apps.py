from django.apps import AppConfig


class ChatsConfig(AppConfig):
    name = "chats"
    verbose_name = "Chats"

    def ready(self) -> None:
        from .skills import register_rest_skills

        register_rest_skills()  # edit, reverse search and report given a chat_id write into it
