"""Completion webhooks, signed the Standard Webhooks way.

When a task with a ``webhook_url`` ends, we POST its JSON (the same shape as GET /v1/tasks/{id})
with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` under the user's webhook secret. A failed delivery is sent again
with exponential backoff (one warning line per failed attempt, no traceback: a receiver being
down is not our error).

No SSRF into our own network: only http(s) URLs whose every address is public are accepted, at
request time and again at delivery time, and the delivery connects to the very address it
checked (TLS still verifies the URL's host name), so a DNS answer that changes between the check
and the connection ("DNS rebinding") cannot redirect it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import requests
from django.db import transaction
from requests.adapters import HTTPAdapter

from accounts.models import UserPreferences
from embeds import sealing

from .broker import DELIVER_WEBHOOK, enqueue, enqueue_on_commit
from .conf import conf
from .models import Task
from .presenters import task_payload

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)
DELIVERY_TIMEOUT_SECONDS = 10


MAX_ATTEMPTS = 7  # about 2 minutes of retries in all
# IPv6 forms that carry an IPv4 address a router translates to: we cannot vet where they end up.
_EMBEDDED_IPV4 = tuple(
    ipaddress.ip_network(net) for net in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16")
)
# Python's ``is_global`` lags the IANA special-purpose registries (3.11 calls the deprecated
# site-local fec0::/10 global), so the check does not rest on it alone. IPv6: only global
# unicast (2000::/3) outside these; IPv4: ``is_global`` and none of these.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(net)
    for net in (
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relays
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)


class WebhookRefused(Exception):
    """The URL is not one we will call."""


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL and the address a delivery must connect to."""

    url: str
    hostname: str
    address: str


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _is_public(address.ipv4_mapped)
        if any(address in network for network in _EMBEDDED_IPV4):
            return False
        if address not in _GLOBAL_UNICAST_V6:  # site-local fec0::/10, ULA, link-local, multicast…
            return False
    if any(address in network for network in _NOT_GLOBAL if network.version == address.version):
        return False
    return address.is_global and not address.is_multicast


def check_webhook_url(url: str) -> WebhookTarget:
    """The target of an http(s) URL whose every address is public; else WebhookRefused."""
    parsed = urlparse(url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused("The webhook URL has an invalid port.") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise WebhookRefused("The webhook URL must be an http(s) URL.")
    try:
        infos = socket.getaddrinfo(parsed.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused("The webhook host does not resolve.") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not conf().WEBHOOK_ALLOW_PRIVATE and not all(_is_public(address) for address in addresses):
        raise WebhookRefused("The webhook URL must point at a public address.")
    return WebhookTarget(url=url, hostname=parsed.hostname, address=str(addresses[0]))


class _PinnedAdapter(HTTPAdapter):
    """Connects to an address checked beforehand while TLS (SNI and certificate) still uses
    the URL's host name."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _post_pinned(target: WebhookTarget, body: bytes, headers: dict[str, str]) -> requests.Response:
    parsed = urlparse(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    userinfo = parsed.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{parsed.port}" if parsed.port else "")
    headers = {**headers, "Host": parsed.netloc.rpartition("@")[2]}
    with requests.Session() as session:
        session.trust_env = False  # a proxy from the environment would resolve the name again
        session.mount(f"{parsed.scheme}://", _PinnedAdapter(target.hostname))
        return session.post(
            parsed._replace(netloc=netloc).geturl(),
            data=body,
            headers=headers,
            timeout=DELIVERY_TIMEOUT_SECONDS,
            allow_redirects=False,  # a redirect could point anywhere
        )


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
    if task.webhook_url:
        enqueue_on_commit(DELIVER_WEBHOOK, str(task.id))


def deliver(task_id: str, attempt: int = 1) -> None:
    """POST the task's final state; on failure, send it again later (up to MAX_ATTEMPTS)."""
    task = Task.objects.select_related("embed").filter(pk=task_id).first()
    if task is None or not task.webhook_url or not task.is_terminal:
        return
    try:
        target = check_webhook_url(task.webhook_url)
    except WebhookRefused as exc:
        logger.warning("generation.webhook.refused task=%s reason=%s", task.id, exc)
        return
    files = None
    if task.status == Task.Status.COMPLETED:
        files = sealing.open_embed(task.embed).content().files
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
    try:
        status = _post_pinned(target, body, headers).status_code
        failure = f"status={status}" if status >= 300 else None
    except requests.RequestException as exc:
        failure = f"error={type(exc).__name__}"
    if failure is None:
        logger.info("generation.webhook.delivered task=%s status=%s attempt=%s", task.id, status, attempt)
        return
    if attempt >= MAX_ATTEMPTS:
        logger.warning("generation.webhook.gave_up task=%s %s attempts=%s", task.id, failure, attempt)
        return
    delay_ms = int(1000 * 2 ** (attempt - 1) * random.uniform(0.8, 1.2))
    logger.warning(
        "generation.webhook.failed task=%s %s attempt=%s retry_in_ms=%s", task.id, failure, attempt, delay_ms
    )
    enqueue(DELIVER_WEBHOOK, str(task.id), attempt + 1, delay_ms=delay_ms)
