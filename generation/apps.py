from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Image generation"

    def ready(self) -> None:
        # The broker must exist before any actor is declared: actors bind to it on import.
        from .broker import configure_broker

        configure_broker()
        from . import actors, checks  # noqa: F401

        user_logged_out.connect(_close_sockets_on_logout, dispatch_uid="generation.close_sockets_on_logout")


def _close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """A log-out ends the session's sockets too (they authenticated once, at connect)."""
    if user is not None and request is not None:
        from .events import close_user_sockets

        close_user_sockets(user.pk, session_key=request.session.session_key)
