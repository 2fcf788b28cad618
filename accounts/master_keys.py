"""The zero-knowledge master key: stored for the browser, opened only by it.

The browser draws an AES-256 master key, wraps it under a key it derives from the password
(PBKDF2-SHA256, this user's random salt, at least OWASP's 600,000 iterations, with a purpose
prefix so it never equals Django's own password hash) and sends only the wrapped form. These
actions check the shape of what arrives and store it; they cannot check the key itself, because
the server holds nothing that opens it (see README "Private (zero-knowledge) images").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from core.api import decode_b64url
from core.errors import ApiError

from .models import MasterKey

# OWASP Password Storage Cheat Sheet: PBKDF2-HMAC-SHA256 with 600,000 iterations.
MIN_ITERATIONS = 600_000
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
WRAPPED_KEY_BYTES = 12 + 32 + 16  # IV || AES-GCM(32-byte key) || tag
VERSION = 1


@dataclass(frozen=True)
class WrappedMasterKey:
    """What the browser sends: the wrapped key and how its wrapping key was derived."""

    wrapped_key: str
    salt: str
    iterations: int
    version: int = VERSION

    @classmethod
    def parse(cls, data) -> WrappedMasterKey:
        """From a JSON body or a form (the password change posts it with the new password)."""
        for name in ("wrapped_key", "salt", "iterations"):
            if data.get(name) in (None, ""):
                raise ApiError("missing_field", f"Send {name}.", field=name)
        size = WRAPPED_KEY_BYTES
        decode_b64url(data["wrapped_key"], "wrapped_key", min_bytes=size, max_bytes=size)
        decode_b64url(data["salt"], "salt", min_bytes=SALT_BYTES, max_bytes=SALT_BYTES)
        iterations = data["iterations"]
        if isinstance(iterations, str) and iterations.isdigit():
            iterations = int(iterations)
        if isinstance(iterations, bool) or not isinstance(iterations, int):
            raise ApiError("invalid_value", "Must be a whole number.", field="iterations")
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise ApiError(
                "invalid_value",
                f"PBKDF2 needs {MIN_ITERATIONS:,}–{MAX_ITERATIONS:,} iterations "
                "(OWASP's current minimum first).",
                field="iterations",
            )
        version = data.get("version", VERSION)
        if str(version) != str(VERSION):
            raise ApiError("invalid_value", f"Only version {VERSION} is known.", field="version")
        return cls(wrapped_key=data["wrapped_key"], salt=data["salt"], iterations=iterations)


def master_key_payload(key: MasterKey) -> dict:
    return {
        "wrapped_key": key.wrapped_key,
        "salt": key.salt,
        "iterations": key.iterations,
        "version": key.version,
        "kdf": "PBKDF2-SHA256",
        "created_at": key.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": key.updated_at.isoformat().replace("+00:00", "Z"),
    }


def do_create_master_key(user: AbstractBaseUser, wrapped: WrappedMasterKey) -> MasterKey:
    """A user's first master key (sign-up, or the first log-in of an older account); a second
    one is refused (409): replacing it would lock the user out of every private image, so only a
    password change, which re-wraps the same key, may overwrite it."""
    try:
        with transaction.atomic():
            return MasterKey.objects.create(
                user=user,
                wrapped_key=wrapped.wrapped_key,
                salt=wrapped.salt,
                iterations=wrapped.iterations,
                version=wrapped.version,
            )
    except IntegrityError:
        raise ApiError(
            "master_key_exists",
            "This account already has a master key; a password change re-wraps it.",
            status_code=409,
        ) from None


@transaction.atomic
def do_change_password(user: AbstractBaseUser, new_password: str, rewrapped: WrappedMasterKey | None) -> None:
    """The new password and the master key re-wrapped under it, in one transaction: never a
    password whose key would not open the master key, nor the reverse."""
    key = MasterKey.objects.select_for_update().filter(user=user).first()
    if key is not None and rewrapped is None:
        raise ApiError(
            "master_key_not_rewrapped",
            "Your private images' key was not re-wrapped for the new password (this page needs "
            "JavaScript); nothing was changed.",
        )
    user.set_password(new_password)
    user.save(update_fields=["password"])
    if key is not None:
        key.wrapped_key, key.salt = rewrapped.wrapped_key, rewrapped.salt
        key.iterations, key.version = rewrapped.iterations, rewrapped.version
        key.save(update_fields=["wrapped_key", "salt", "iterations", "version", "updated_at"])
