from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API keys"

    def ready(self) -> None:
        from . import api_key_cache, schema  # noqa: F401  (cache invalidation signals; OpenAPI auth)
