"""AES-256-GCM envelopes: the one way this project encrypts bytes.

Every call to ``encrypt`` draws a fresh random 96-bit nonce, so no (key, nonce) pair is ever
used twice — the system we replace reused one nonce for several objects under one key, which
leaks the XOR of the plaintexts and the GHASH key. The associated data binds each ciphertext to
what it is (embed id and variant), so an object moved to another name fails to decrypt.

Envelope: ``b"OMI1"`` (format version) || nonce (12 bytes) || ciphertext || tag (16 bytes).
The version prefix lets a later format coexist, as Django's hashers prefix ``algorithm$``.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.faults import StoredDataUnreadable

VERSION = b"OMI1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_AAD_PREFIX = b"openmates-images/v1|"


class DecryptionError(StoredDataUnreadable):
    """The envelope is malformed, or the key or associated data is wrong, or it was tampered with."""


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def object_aad(owner_id: uuid.UUID | str, variant: str) -> bytes:
    """Associated data naming what a ciphertext is: an embed (or chat, message…) and a variant."""
    return _AAD_PREFIX + str(owner_id).encode() + b"|" + variant.encode()


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, envelope: bytes, aad: bytes) -> bytes:
    if len(envelope) < len(VERSION) + NONCE_BYTES + TAG_BYTES or not envelope.startswith(VERSION):
        raise DecryptionError("not an envelope of a known version")
    if len(key) != KEY_BYTES:
        raise DecryptionError("wrong key size")
    nonce = envelope[len(VERSION) : len(VERSION) + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, envelope[len(VERSION) + NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise DecryptionError("authentication failed (wrong key, wrong object, or tampered)") from exc


def nonce_of(envelope: bytes) -> bytes:
    """The nonce of an envelope (tests assert nonces never repeat)."""
    return envelope[len(VERSION) : len(VERSION) + NONCE_BYTES]
