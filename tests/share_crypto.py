"""What static/js/share-crypto.js does, in Python: lets the API tests act as the owner's and the
visitor's browsers (the Playwright test checks the JavaScript itself against the same server)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

AAD = b"openmates-images/share/v1"
ITERATIONS = 600_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, meta: dict, image: bytes) -> bytes:
    meta_bytes = json.dumps(meta).encode()
    iv = os.urandom(12)
    plain = struct.pack(">I", len(meta_bytes)) + meta_bytes + image
    return b"OMS1" + iv + AESGCM(key).encrypt(iv, plain, AAD)


def open_envelope(key: bytes, envelope: bytes) -> tuple[dict, bytes]:
    assert envelope[:4] == b"OMS1"
    plain = AESGCM(key).decrypt(envelope[4:16], envelope[16:], AAD)
    (length,) = struct.unpack(">I", plain[:4])
    return json.loads(plain[4 : 4 + length]), plain[4 + length :]


def password_keys(
    password: str, salt: bytes, secret: bytes, iterations: int = ITERATIONS
) -> tuple[bytes, str]:
    stretched = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)

    def hkdf(info: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(stretched + secret)

    return hkdf(b"omi-share-wrap"), b64url(hkdf(b"omi-share-verify"))


def wrap(wrap_key: bytes, share_key: bytes) -> str:
    iv = os.urandom(12)
    return b64url(iv + AESGCM(wrap_key).encrypt(iv, share_key, None))


def unwrap(wrap_key: bytes, wrapped: str) -> bytes:
    raw = unb64url(wrapped)
    return AESGCM(wrap_key).decrypt(raw[:12], raw[12:], None)
