from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Image generation"

    def ready(self) -> None:
        # The broker must exist before any actor is declared: actors bind to it on import.
        from .broker import configure_broker

        configure_broker()
        from . import actors  # noqa: F401
