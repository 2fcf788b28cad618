from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Image generation"

    def ready(self) -> None:
        # The broker must exist before any actor is declared: actors bind to it on import.
        from .broker import configure_broker

        configure_broker()
        from embeds.signals import embed_deleting

        from . import actors, checks, lifecycle  # noqa: F401

        embed_deleting.connect(_cancel_tasks_of_embed, dispatch_uid="generation.cancel_tasks_of_embed")
        user_logged_out.connect(_close_sockets_on_logout, dispatch_uid="generation.close_sockets_on_logout")


def _cancel_tasks_of_embed(sender, embed_id, **kwargs) -> None:
    """An embed about to be deleted: its unfinished tasks are flagged cancelled first."""
    from .lifecycle import cancel_for_embed

    cancel_for_embed(embed_id)


def _close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """A log-out ends the session's sockets too (they authenticated once, at connect)."""
    if user is not None and request is not None:
        from .events import close_user_sockets

        close_user_sockets(user.pk, session_key=request.session.session_key)
