"""``settings.GENERATION`` as a frozen dataclass, read once and reset when tests change settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class GenerationConf:
    DEFAULT_MODEL: str
    QUEUE: str
    MAX_RETRIES: int
    RETRY_MIN_BACKOFF_MS: int
    RETRY_MAX_BACKOFF_MS: int
    STALE_TASK_SECONDS: int
    REAPER_INTERVAL_SECONDS: float
    INPROCESS_WORKERS: bool
    WORKER_THREADS: int
    RATE_LIMIT_PER_MINUTE: int
    MAX_CONCURRENT_PER_USER: int
    GOOGLE_API_KEY: str
    GEMINI_BASE_URL: str
    GEMINI_API_VERSION: str
    GEMINI_TIMEOUT: float
    FAL_KEY: str
    FAL_QUEUE_BASE_URL: str
    FAL_RUN_BASE_URL: str
    FAL_TIMEOUT: float
    FAL_POLL_INTERVAL: float
    SERPAPI_API_KEY: str
    SERPAPI_BASE_URL: str
    SERPAPI_ENGINE: str
    SERPAPI_TIMEOUT: float
    PUBLIC_BASE_URL: str
    PROVIDER_DOWNLOAD_MAX_BYTES: int
    WEBHOOK_ALLOW_PRIVATE: bool
    TEST_PROMPT_HOOKS: bool
    # How often each configured provider is asked whether its models still exist (0 = never).
    PROVIDER_CHECK_INTERVAL_SECONDS: float = 1800.0
    # The model answering questions about images ("" = Gemini when configured, else offline).
    ANALYSIS_DEFAULT_MODEL: str = ""
    # Dotted path of ``hook(stage, run)`` called before each pipeline stage ("" = none, production).
    STAGE_HOOK: str = ""


@cache
def conf() -> GenerationConf:
    return GenerationConf(**settings.GENERATION)


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "GENERATION":
        conf.cache_clear()
