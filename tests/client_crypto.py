"""What static/js/private-crypto.js does, in Python: lets the API and at-rest tests act as the
browser of a zero-knowledge account (the Playwright test runs the JavaScript itself). It is also
the README's recipe for a REST client that decrypts its own private images."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image

ITERATIONS = 600_000
MASTER_AAD = b"openmates-images/master-key/v1"
EMBED_KEY_AAD = b"openmates-images/embed-key/v1"
FILE_AAD = b"openmates-images/client/v1|"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def wrapping_key(password: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    # The purpose prefix keeps this key apart from Django's own PBKDF2 hash of the password.
    return hashlib.pbkdf2_hmac("sha256", password.encode(), MASTER_AAD + b"|" + salt, iterations, 32)


def seal_key(wrapping: bytes, key: bytes, aad: bytes) -> str:
    iv = os.urandom(12)
    return b64url(iv + AESGCM(wrapping).encrypt(iv, key, aad))


def open_key(wrapping: bytes, wrapped: str, aad: bytes) -> bytes:
    raw = unb64url(wrapped)
    return AESGCM(wrapping).decrypt(raw[:12], raw[12:], aad)


PASSWORD = "correct horse battery"


def _image(fmt: str, size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


# A private upload's three renditions as the browser makes them (before sealing).
RENDITIONS = {"original": _image("PNG"), "full": _image("WEBP"), "preview": _image("WEBP", (300, 225))}


def register_master_key(client, password: str = PASSWORD) -> bytes:
    """A new master key stored for the client's user through the API; the raw key back."""
    master, body = new_master_key(password)
    response = client.post("/v1/account/master_key", body, format="json")
    assert response.status_code == 201, response.content
    return master


def new_master_key(password: str) -> tuple[bytes, dict]:
    """A master key and the JSON body that stores it (POST /v1/account/master_key)."""
    master, salt = os.urandom(32), os.urandom(16)
    body = {
        "wrapped_key": seal_key(wrapping_key(password, salt), master, MASTER_AAD),
        "salt": b64url(salt),
        "iterations": ITERATIONS,
    }
    return master, body


def open_master_key(password: str, stored: dict) -> bytes:
    wrapping = wrapping_key(password, unb64url(stored["salt"]), stored["iterations"])
    return open_key(wrapping, stored["wrapped_key"], MASTER_AAD)


def seal(key: bytes, variant: str, data: bytes) -> bytes:
    iv = os.urandom(12)
    return b"OMC1" + iv + AESGCM(key).encrypt(iv, data, FILE_AAD + variant.encode())


def open_envelope(key: bytes, variant: str, envelope: bytes) -> bytes:
    assert envelope[:4] == b"OMC1"
    return AESGCM(key).decrypt(envelope[4:16], envelope[16:], FILE_AAD + variant.encode())


def private_upload_fields(master: bytes, renditions: dict[str, bytes], meta: dict) -> tuple[bytes, dict]:
    """The embed key and the multipart fields of a private upload (POST /v1/embeds/upload)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    embed_key = os.urandom(32)
    fields = {
        "encryption_mode": "client",
        "wrapped_key": seal_key(master, embed_key, EMBED_KEY_AAD),
        "encrypted_meta": b64url(seal(embed_key, "meta", json.dumps(meta).encode())),
    }
    for variant, data in renditions.items():
        fields[variant] = SimpleUploadedFile(variant, seal(embed_key, variant, data))
    return embed_key, fields
