"""Short-lived links a provider can fetch an image from (fal edits, reverse image search).

A provider cannot send our cookies or API keys, so for the length of one task we publish an
EXIF-stripped copy at an unguessable URL: the token is HMAC-signed (purpose-salted SECRET_KEY),
names the embed, the task and an expiry of a few minutes, and is single-purpose. The copy is
stored encrypted like everything else, and the link stops working as soon as the task ends
(the copy is deleted and the task is checked on every fetch), even before it expires.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

from django.core.signing import BadSignature, Signer
from django.urls import reverse

from embeds import imaging, sealing
from embeds.models import Embed

from .conf import conf

LINK_SALT = "openmates_images.embeds.shared_link"
LINK_SECONDS = 10 * 60


def shared_variant(task_id: uuid.UUID | str) -> str:
    return f"shared-{task_id}"


@dataclass(frozen=True)
class SharedLink:
    embed_id: str
    task_id: str
    expires_at: int


def _signer() -> Signer:
    return Signer(salt=LINK_SALT, algorithm="sha256")


def make_token(embed_id: uuid.UUID | str, task_id: uuid.UUID | str, *, seconds: int = LINK_SECONDS) -> str:
    payload = json.dumps(
        {"e": str(embed_id), "t": str(task_id), "x": int(time.time()) + seconds}, separators=(",", ":")
    )
    return _signer().sign(base64.urlsafe_b64encode(payload.encode()).decode().rstrip("="))


def read_token(token: str) -> SharedLink | None:
    """The link the token names, or None if forged, malformed or expired."""
    try:
        raw = _signer().unsign(token)
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        link = SharedLink(embed_id=payload["e"], task_id=payload["t"], expires_at=int(payload["x"]))
    except (BadSignature, ValueError, KeyError, TypeError):
        return None
    return link if link.expires_at >= time.time() else None


def publish_copy(source: Embed, holder: Embed, task_id: uuid.UUID | str) -> str:
    """Store an EXIF-stripped PNG of ``source``'s original under ``holder`` (the task's embed)
    and return the absolute URL a provider may fetch it from."""
    clean = imaging.clean_image_bytes(sealing.open_embed(source).load_file("original"))
    sealing.open_embed(holder).store_file(shared_variant(task_id), clean)
    path = reverse("shared-image", kwargs={"token": make_token(holder.id, task_id)})
    return conf().PUBLIC_BASE_URL.rstrip("/") + path


def withdraw_copy(holder: Embed, task_id: uuid.UUID | str) -> None:
    sealing.delete_files(holder, (shared_variant(task_id),))
