"""Whether each model can really be used now, and why not: caught before a user pays an attempt.

Three things make a listed model unusable:

- its provider has no key (``GOOGLE_API_KEY``, ``FAL_KEY``): not configured;
- the provider says the model does not exist (Gemini's ``models.get`` answers 404, or a call
  answered 404 for it): checked for image and analysis models alike (``watched_models``) at
  start-up and every ``PROVIDER_CHECK_INTERVAL_SECONDS`` by ``start_availability_monitor`` and
  ``manage.py check_providers``, and marked at once by the provider when a call meets the 404;
- its edits, or reverse search, need the provider to fetch our image from ``PUBLIC_BASE_URL``
  and that address is loopback or private while the provider is not (``edit_unavailable_reason``,
  ``search_unavailable_reason``).

Probe results live in Redis when ``REDIS_URL`` is set (web and worker processes share them) and
in this process otherwise (the embedded mode runs its workers in the web process). Keys carry the
database name, so separate installations (and test databases) sharing one Redis stay apart.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import conf

logger = logging.getLogger(__name__)

_local: dict[str, dict] = {}
_lock = threading.Lock()
_monitor: threading.Thread | None = None
PROVIDER_KEYS = {"gemini": "GOOGLE_API_KEY", "fal": "FAL_KEY"}


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str | None = None


# -- the shared record of probe results -----------------------------------------------------------


def _redis():
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    return _redis_client(url) if url else None


@lru_cache(maxsize=4)
def _redis_client(url: str):
    """One client (and connection pool) per URL; short timeouts, as a status read must not hang
    a request when Redis is down (readyz reports Redis itself)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _key(model_id: str) -> str:
    from django.db import connection

    return f"omi:{connection.settings_dict.get('NAME')}:model_status:{model_id}"


def record(model_id: str, *, missing: str | None) -> None:
    """Remember a probe: ``missing`` is the reason the provider gave, None when the model is there."""
    entry = {"missing": missing, "checked_at": time.time()}
    with _lock:
        _local[model_id] = entry
    try:
        client = _redis()
        if client is not None:
            ttl = int(max(60.0, conf().PROVIDER_CHECK_INTERVAL_SECONDS * 3))
            client.set(_key(model_id), json.dumps(entry), ex=ttl)
    except Exception as exc:  # Redis down: this process still knows; readyz reports Redis itself
        logger.warning("generation.availability.record_failed error=%s", type(exc).__name__)


def recorded(model_id: str) -> dict | None:
    """The last probe result for a model, from Redis when configured, else from this process."""
    try:
        client = _redis()
        if client is not None:
            raw = client.get(_key(model_id))
            return json.loads(raw) if raw else None
    except Exception as exc:
        logger.warning("generation.availability.read_failed error=%s", type(exc).__name__)
    with _lock:
        return _local.get(model_id)


def watched_models() -> tuple:
    """Every model whose availability is probed and reported: the image generators, then the
    models that answer questions about images (their specs have the same ``id``, ``provider``,
    ``provider_model`` and ``supports_edit``, so one loop serves both)."""
    from .analysis.models import ANALYSIS_MODELS
    from .registry import MODELS

    return (*MODELS, *ANALYSIS_MODELS)


def forget_all() -> None:
    """Drop every probe result: they were made with settings that no longer hold (a new key, a
    new base URL). Runs on every change of ``settings.GENERATION`` (tests)."""
    with _lock:
        _local.clear()
    try:
        client = _redis()
        if client is not None:
            client.delete(*[_key(spec.id) for spec in watched_models()])
    except Exception:
        logger.warning("generation.availability.forget_failed")


@receiver(setting_changed)
def _reset(*, setting: str, **_: object) -> None:
    if setting == "GENERATION":
        forget_all()


def mark_missing(provider_model: str, reason: str) -> None:
    """A provider met a 404 for ``provider_model``: every model calling it (image or analysis)
    is unavailable now."""
    for spec in watched_models():
        if spec.provider_model == provider_model:
            record(spec.id, missing=reason)
            logger.warning("generation.availability.model_missing model=%s", spec.id)


# -- the public address providers fetch from -------------------------------------------------------


def _is_private_host(host: str) -> bool:
    """True for loopback, private and link-local addresses and for local names ("localhost",
    "*.local", "*.internal", a bare name). Public-looking names are not resolved: a name that
    resolves to a private address inside a split-horizon network may still be public outside."""
    host = host.lower().strip("[]")
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa"))
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def _unreachable_public_url(provider_base_url: str, who: str) -> str | None:
    """Why ``who`` (fetching from the internet at ``provider_base_url``) cannot reach our
    ``PUBLIC_BASE_URL``, or None. A provider that itself lives on a private address (a local
    double, a proxy on the same network) can reach a private address, so that is no problem."""
    public = conf().PUBLIC_BASE_URL
    if not _is_private_host(urlsplit(public).hostname or ""):
        return None
    if _is_private_host(urlsplit(provider_base_url).hostname or ""):
        return None
    return (
        f"PUBLIC_BASE_URL ({public}) is a loopback or private address, which {who} cannot fetch "
        "images from; set it to this server's public https address."
    )


def edit_unavailable_reason(provider: str) -> str | None:
    """Why edits with ``provider`` cannot work on this server, or None (fal fetches the source)."""
    if provider == "fal" and conf().FAL_KEY:
        return _unreachable_public_url(conf().FAL_QUEUE_BASE_URL, "fal.ai")
    return None


def search_unavailable_reason() -> str | None:
    """Why reverse image search cannot work on this server, or None."""
    from .reverse_search import ENGINES

    settings = conf()
    if not settings.SERPAPI_API_KEY:
        return "SERPAPI_API_KEY is not set."
    if settings.SERPAPI_ENGINE not in ENGINES:
        return f"SERPAPI_ENGINE {settings.SERPAPI_ENGINE!r} is not supported; use google_lens."
    return _unreachable_public_url(settings.SERPAPI_BASE_URL, "SerpApi")


# -- status and checks ----------------------------------------------------------------------------


def model_status(spec) -> Availability:
    """Whether ``spec`` (an image or analysis model spec) can take a request now, and why not."""
    from .registry import provider_for

    if not provider_for(spec).is_available():
        setting = PROVIDER_KEYS.get(spec.provider, "its key")
        return Availability(False, f"Not configured: {setting} is not set.")
    entry = recorded(spec.id)
    if entry and entry.get("missing"):
        return Availability(False, entry["missing"])
    return Availability(True)


def model_entry(spec) -> dict:
    """One model as ``GET /v1/apps/images/models`` lists it, with what works and why not."""
    status = model_status(spec)
    if spec.supports_edit:
        edit_reason = status.reason if not status.available else edit_unavailable_reason(spec.provider)
    else:
        edit_reason = "This model cannot edit images."
    return {
        "id": spec.id,
        "aliases": list(spec.aliases),
        "label": spec.label,
        "tier": spec.tier,
        "provider": spec.provider,
        "available": status.available,
        "unavailable_reason": status.reason,
        "edit_available": edit_reason is None,
        "edit_unavailable_reason": edit_reason,
        "aspect_ratios": list(spec.aspect_ratios),
        "image_sizes": list(spec.image_sizes),
        "supports_edit": spec.supports_edit,
        "max_reference_images": spec.max_input_images,
        "cost_usd": str(spec.cost_usd),
        "timeout_seconds": spec.timeout_seconds,
    }


def reverse_search_entry() -> dict:
    reason = search_unavailable_reason()
    return {"available": reason is None, "engine": conf().SERPAPI_ENGINE, "unavailable_reason": reason}


def check_models() -> list[tuple[object, Availability, str | None]]:
    """Ask each configured provider whether each of its models exists; record and return, for
    every model, its status and why the probe itself failed (None when it answered). A probe that
    fails for another reason (network, 5xx, a wrong key) keeps what was known: it says nothing
    about the model."""
    from .registry import provider_for

    found = []
    for spec in watched_models():
        provider = provider_for(spec)
        probe_error = None
        if provider.is_available():
            try:
                record(spec.id, missing=provider.check_model(spec.provider_model))
            except Exception as exc:
                probe_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                logger.warning("generation.availability.check_failed model=%s error=%s", spec.id, probe_error)
        found.append((spec, model_status(spec), probe_error))
    return found


def warnings() -> dict[str, str]:
    """Every configured feature that cannot work, by name, with its reason (for /readyz and the
    system check): missing models (image or analysis), and edits or search blocked by a private
    PUBLIC_BASE_URL."""
    from .registry import provider_for

    found: dict[str, str] = {}
    for spec in watched_models():
        if not provider_for(spec).is_available():
            continue  # not configured on purpose: nothing to warn about
        status = model_status(spec)
        if not status.available:
            found[spec.id] = status.reason or "unavailable"
        elif spec.supports_edit and (reason := edit_unavailable_reason(spec.provider)):
            found[f"{spec.id} (edit)"] = reason
    if conf().SERPAPI_API_KEY and (reason := search_unavailable_reason()):
        found["reverse_search"] = reason
    return found


def start_availability_monitor() -> threading.Thread | None:
    """Check every configured model now and then every PROVIDER_CHECK_INTERVAL_SECONDS, in a
    daemon thread of this process (once per process; 0 turns the schedule off)."""
    global _monitor
    interval = conf().PROVIDER_CHECK_INTERVAL_SECONDS
    if interval <= 0:
        return None
    with _lock:
        if _monitor is not None:
            return _monitor
        stop = threading.Event()

        def loop() -> None:
            from django.db import close_old_connections

            while True:
                try:
                    check_models()
                except Exception:
                    logger.exception("generation.availability.monitor_crashed")
                finally:
                    close_old_connections()
                if stop.wait(interval):
                    return

        _monitor = threading.Thread(target=loop, name="model-availability", daemon=True)
        _monitor.stop = stop  # type: ignore[attr-defined]
        _monitor.start()
        return _monitor
