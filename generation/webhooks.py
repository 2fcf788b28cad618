"""Completion webhooks, signed the Standard Webhooks way.

When a task with a ``webhook_url`` ends, we POST its JSON (the same shape as GET /v1/tasks/{id})
with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` under the user's webhook secret. Delivery is retried with backoff by
the ``generation.deliver_webhook`` actor. Only http(s) URLs resolving to public addresses are
accepted, at request time and again at delivery time (no SSRF into our own network).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from urllib.parse import urlparse

from django.db import transaction

from accounts.models import UserPreferences

from .conf import conf
from .models import Task

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)
DELIVERY_TIMEOUT_SECONDS = 10


class WebhookRefused(Exception):
    """The URL is not one we will call."""


def check_webhook_url(url: str) -> None:
    """Raise WebhookRefused unless the URL is http(s) and every address it resolves to is public."""
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise WebhookRefused("The webhook URL must be an http(s) URL.")
    if conf().WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise WebhookRefused("The webhook host does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise WebhookRefused("The webhook URL must point at a public address.")


def webhook_secret_for(user_id: int) -> str:
    """The user's signing secret, created on first use."""
    with transaction.atomic():
        prefs, _ = UserPreferences.objects.select_for_update().get_or_create(user_id=user_id)
        if not prefs.webhook_secret:
            prefs.webhook_secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
            prefs.save(update_fields=["webhook_secret"])
        return prefs.webhook_secret


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def schedule_webhook(task: Task) -> None:
    """Queue delivery of the task's final state after commit, if it has a webhook URL."""
    if not task.webhook_url:
        return
    from .actors import deliver_webhook

    task_id = str(task.id)
    transaction.on_commit(lambda: deliver_webhook.send(task_id))


def deliver(task_id: str) -> None:
    """POST the task's final state; raises on failure so the actor retries with backoff."""
    import requests

    from embeds import sealing

    from .presenters import task_payload

    task = Task.objects.select_related("embed").filter(pk=task_id).first()
    if task is None or not task.webhook_url or not task.is_terminal:
        return
    check_webhook_url(task.webhook_url)
    files = None
    if task.status == Task.Status.COMPLETED:
        files = sealing.open_embed(task.embed).content().get("files")
    body = json.dumps(
        task_payload(task, embed_status=task.embed.status, files=files), separators=(",", ":")
    ).encode()
    message_id = f"msg_{task.id.hex}_{task.status}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(webhook_secret_for(task.owner_id), message_id, timestamp, body),
        "User-Agent": "openmates-images-webhooks/1",
    }
    response = requests.post(
        task.webhook_url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS, allow_redirects=False
    )
    if response.status_code >= 300:
        # 3xx is not followed (it could point anywhere); 4xx/5xx are retried by the actor.
        raise RuntimeError(f"webhook answered {response.status_code}")
    logger.info("generation.webhook.delivered task=%s status=%s", task.id, response.status_code)
