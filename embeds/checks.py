"""System checks for the embeds app: fail at startup, not at the first request."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_keyring(app_configs, **kwargs) -> list[Error]:
    errors: list[Error] = []
    embeds = settings.EMBEDS
    if embeds["KEYRING"] == "vault" and not embeds["VAULT_TOKEN"]:
        errors.append(
            Error("VAULT_ADDR is set but VAULT_TOKEN is empty.", hint="Set VAULT_TOKEN.", id="embeds.E001")
        )
    if embeds["KEYRING"] not in {"vault", "local"}:
        errors.append(Error(f"Unknown keyring {embeds['KEYRING']!r}.", id="embeds.E002"))
    return errors
