"""``settings.EMBEDS`` as a frozen dataclass, read once and reset when tests change settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class EmbedsConf:
    KEYRING: str
    VAULT_ADDR: str
    VAULT_TOKEN: str
    VAULT_TRANSIT_MOUNT: str
    VAULT_KEY_PREFIX: str
    VAULT_TIMEOUT: float
    KEYRING_MASTER_KEY: str
    KEYRING_MASTER_KEY_FILE: str
    UPLOAD_MAX_BYTES: int
    MAX_IMAGE_PIXELS: int
    IMAGE_MEMORY_BUDGET_BYTES: int
    IMAGE_QUEUE_SECONDS: float
    PREVIEW_MAX_SIZE: tuple[int, int]
    FULL_WEBP_QUALITY: int
    PREVIEW_WEBP_QUALITY: int
    FILE_CACHE_SECONDS: int
    C2PA_SIGN_CERT: str
    C2PA_PRIVATE_KEY: str
    C2PA_TSA_URL: str
    C2PA_LOCAL_PKI_DIR: str
    CREDIT_LINE: str
    DATA_KEY_CACHE_SECONDS: float
    DATA_KEY_CACHE_MAX_USES: int
    DATA_KEY_CACHE_MAX_ENTRIES: int
    UPLOAD_RATE_LIMIT_PER_MINUTE: int


@cache
def conf() -> EmbedsConf:
    return EmbedsConf(**settings.EMBEDS)


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "EMBEDS":
        conf.cache_clear()
