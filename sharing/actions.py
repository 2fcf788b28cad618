"""Creating, opening and ending share links.

The server never holds a share key: the browser encrypts the image (AES-256-GCM, fresh IV) and
uploads ciphertext only; the key lives in the link's URL fragment, which browsers never send.
What the server does enforce is everything a key cannot: expiry, revocation, the password and
the rate of visits. An ended link's ciphertext is deleted; unknown, expired and revoked ids all
go down the same code path (one query that finds nothing), so a visitor cannot tell them apart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q, QuerySet

from core.api import decode_b64url
from core.errors import ApiError
from embeds import imaging, sealing, storage
from embeds.models import Embed

from . import clock
from .models import Share

logger = logging.getLogger(__name__)

VARIANT = "share"
ENVELOPE_PREFIX = b"OMS1"  # what share.js writes: "OMS1" || IV (12) || ciphertext || tag (16)
MIN_ENVELOPE = len(ENVELOPE_PREFIX) + 12 + 16
# OWASP Password Storage Cheat Sheet: PBKDF2-HMAC-SHA256 with 600,000 iterations.
MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000
EXPIRY_CHOICES: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "never": None,
}


def object_name(share: Share) -> str:
    return storage.object_name(share.owner_id, share.id, VARIANT)


def live() -> QuerySet[Share]:
    """Shares a visitor may still open: not expired (revoked ones no longer exist)."""
    return Share.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=clock.now()))


_b64 = decode_b64url


@dataclass(frozen=True)
class PasswordLock:
    salt: str
    iterations: int
    wrapped_key: str
    verifier: str

    @classmethod
    def parse(cls, data) -> PasswordLock | None:
        """The password fields of a create request: all four or none."""
        names = ("password_salt", "password_iterations", "wrapped_key", "verifier")
        given = [n for n in names if data.get(n) not in (None, "")]
        if not given:
            return None
        missing = [n for n in names if n not in given]
        if missing:
            raise ApiError("missing_field", f"A password needs {', '.join(names)}.", field=missing[0])
        try:
            iterations = int(data["password_iterations"])
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_value", "Must be an integer.", field="password_iterations") from exc
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise ApiError(
                "invalid_value",
                f"PBKDF2 needs {MIN_ITERATIONS:,}–{MAX_ITERATIONS:,} iterations.",
                field="password_iterations",
            )
        _b64(data["password_salt"], "password_salt", min_bytes=16, max_bytes=32)
        _b64(data["wrapped_key"], "wrapped_key", min_bytes=12 + 32 + 16, max_bytes=12 + 32 + 16)
        _b64(data["verifier"], "verifier", min_bytes=32, max_bytes=32)
        return cls(data["password_salt"], iterations, data["wrapped_key"], data["verifier"])


def verifier_hash(verifier: str) -> str:
    return hashlib.sha256(verifier.encode()).hexdigest()


def parse_expiry(value) -> timedelta | None:
    if value not in EXPIRY_CHOICES:
        raise ApiError(
            "invalid_value", f"expires_in must be one of {', '.join(EXPIRY_CHOICES)}.", field="expires_in"
        )
    return EXPIRY_CHOICES[value]


def check_envelope(data: bytes, limit: int, *, size: int | None = None) -> None:
    """Refuse what cannot be a browser-made envelope (``size``: check only the size, unread)."""
    if (len(data) if size is None else size) > limit:
        raise ApiError("file_too_large", "The encrypted copy is too large.", field="file", status_code=413)
    if size is not None:
        return
    if len(data) < MIN_ENVELOPE or not data.startswith(ENVELOPE_PREFIX):
        raise ApiError(
            "invalid_value",
            "The file must be an OMS1 AES-256-GCM envelope made by the browser.",
            field="file",
        )


def do_create_share(
    owner: AbstractBaseUser,
    embed: Embed,
    ciphertext: bytes,
    *,
    expires_in: timedelta | None,
    lock: PasswordLock | None,
    include_prompt: bool,
) -> Share:
    """Store the browser's ciphertext, then commit the row; a failed commit removes the object."""
    share = Share(
        owner=owner,
        embed=embed,
        expires_at=clock.now() + expires_in if expires_in else None,
        size_bytes=len(ciphertext),
        include_prompt=include_prompt,
    )
    if lock:
        share.password_salt = lock.salt
        share.password_iterations = lock.iterations
        share.wrapped_key = lock.wrapped_key
        share.verifier_hash = verifier_hash(lock.verifier)
    storage.put_object(object_name(share), ciphertext)
    try:
        with transaction.atomic():
            share.save(force_insert=True)
    except BaseException:
        storage.delete_object(object_name(share))
        raise
    logger.info("sharing.share.created embed=%s", embed.id)  # never the share id: it opens the link
    return share


def _end(share: Share) -> None:
    """Delete the ciphertext first: if storage is down the row stays and the end can be retried."""
    storage.delete_object(object_name(share))
    share.delete()


def do_revoke_share(share: Share) -> None:
    _end(share)
    logger.info("sharing.share.revoked embed=%s", share.embed_id)


def delete_shares(shares: QuerySet[Share]) -> int:
    """End every share of a queryset (an embed's or an account's, before they are deleted)."""
    count = 0
    for share in list(shares):
        _end(share)
        count += 1
    return count


def purge_expired() -> int:
    """Delete the ciphertext and rows of expired shares (run by the owner's list, the settings
    page and the ``purge_shares`` command; visitors never trigger it, so a visit to an expired
    link costs the same as a visit to an unknown one)."""
    count = delete_shares(Share.objects.filter(expires_at__lte=clock.now()))
    if count:
        logger.info("sharing.purge.done expired=%s", count)
    return count


def open_share(share_id: str) -> Share | None:
    """The live share a visitor names, or None (unknown, expired or revoked alike)."""
    if not isinstance(share_id, str) or len(share_id) > 32:
        share_id = ""
    return live().filter(pk=share_id).first()


def password_ok(share: Share, verifier: str | None) -> bool:
    if not share.has_password:
        return True
    return hmac.compare_digest(verifier_hash(verifier or ""), share.verifier_hash)


def read_ciphertext(share: Share) -> bytes:
    data = storage.get_object(object_name(share))
    Share.objects.filter(pk=share.pk).update(view_count=F("view_count") + 1)
    return data


def shareable_copy(embed: Embed, *, include_prompt: bool) -> bytes:
    """The full WEBP as stored (its XMP and C2PA intact); without the prompt, a copy rendered
    again from the original with the same AI label minus the prompt, freshly signed."""
    opened = sealing.open_embed(embed)
    label = opened.image().inherited_label()
    if include_prompt or not label or not label.prompt:
        return opened.load_file("full")
    renditions = imaging.render_generated(
        opened.load_file("original"), replace(label, prompt=None).for_image()
    )
    return renditions["full"].data
