from django.apps import AppConfig


class EmbedsConfig(AppConfig):
    name = "embeds"
    verbose_name = "Embeds"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
