from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Image generation"

    def ready(self) -> None:
        # The broker must exist before any actor is declared: actors bind to it on import.
        from .broker import configure_broker

        configure_broker()
        from embeds.signals import collect_object_names, embed_deleting

        from . import actors, checks, cleanup  # noqa: F401

        embed_deleting.connect(cleanup.release_embed, dispatch_uid="generation.release_embed")
        collect_object_names.connect(cleanup.kept_object_names, dispatch_uid="generation.kept_object_names")

        user_logged_out.connect(_close_sockets_on_logout, dispatch_uid="generation.close_sockets_on_logout")


def _close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """A log-out ends the session's sockets too (they authenticated once, at connect)."""
    if user is not None and request is not None:
        from core.realtime import close_user_sockets

        close_user_sockets(user.pk, session_key=request.session.session_key)
