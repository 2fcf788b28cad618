"""Health endpoints: /healthz says the process is up, /readyz that its dependencies answer."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request) -> JsonResponse:
    from django.conf import settings

    from embeds import storage
    from embeds.keyring import get_keyring

    checks: dict[str, str] = {}

    def probe(name: str, fn) -> None:
        try:
            fn()
            checks[name] = "ok"
        except Exception as exc:
            logger.warning("health.readyz.failed check=%s error=%s", name, type(exc).__name__)
            checks[name] = "unavailable"

    def database() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def redis() -> None:
        import redis as redis_lib

        redis_lib.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()

    probe("database", database)
    if settings.REDIS_URL:
        probe("redis", redis)
    probe("storage", storage.ping)
    probe("keyring", lambda: get_keyring().ping())
    ok = all(v == "ok" for v in checks.values())
    body: dict = {"status": "ok" if ok else "unavailable", "checks": checks}
    if ok:  # models gone at their provider, features a private PUBLIC_BASE_URL blocks: warn, not 503
        from generation.availability import warnings

        body["warnings"] = warnings()
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "5"
    return response
