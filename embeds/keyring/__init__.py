"""The keyring the settings choose: Vault transit (VAULT_ADDR set) or the local keyring."""

from __future__ import annotations

from functools import cache

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import conf
from .base import Keyring, KeyringError, KeyringUnavailable, key_name_for_user

__all__ = ["Keyring", "KeyringError", "KeyringUnavailable", "get_keyring", "key_name_for_user"]


@cache
def get_keyring() -> Keyring:
    if conf().KEYRING == "vault":
        from .vault import VaultKeyring

        return VaultKeyring()
    from .local import LocalKeyring

    return LocalKeyring()


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "EMBEDS":
        get_keyring.cache_clear()
