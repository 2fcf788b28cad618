"""AES-256-GCM envelopes: fresh nonces, bound to what they encrypt, tamper-evident."""

from __future__ import annotations

import uuid

import pytest

from embeds import crypto


def test_round_trip():
    key = crypto.new_data_key()
    aad = crypto.object_aad(uuid.uuid4(), "full")
    assert crypto.decrypt(key, crypto.encrypt(key, b"pixels", aad), aad) == b"pixels"
    assert len(key) == 32


def test_every_encryption_has_a_fresh_nonce():
    key = crypto.new_data_key()
    aad = crypto.object_aad("embed", "preview")
    envelopes = [crypto.encrypt(key, b"same plaintext", aad) for _ in range(1000)]
    assert len({crypto.nonce_of(e) for e in envelopes}) == 1000
    assert len(set(envelopes)) == 1000
    assert all(e.startswith(crypto.VERSION) and len(crypto.nonce_of(e)) == 12 for e in envelopes)


@pytest.mark.parametrize(
    ("other_id", "other_variant"),
    [("same", "preview"), ("other-embed", "full")],
)
def test_wrong_embed_or_variant_fails(other_id, other_variant):
    key = crypto.new_data_key()
    envelope = crypto.encrypt(key, b"data", crypto.object_aad("same", "full"))
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, envelope, crypto.object_aad(other_id, other_variant))


def test_tampering_wrong_key_and_bad_envelopes_fail():
    key = crypto.new_data_key()
    aad = crypto.object_aad("e", "original")
    envelope = bytearray(crypto.encrypt(key, b"data" * 100, aad))
    envelope[40] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, bytes(envelope), aad)
    good = crypto.encrypt(key, b"data", aad)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(crypto.new_data_key(), good, aad)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, b"OMI2" + good[4:], aad)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key, good[:20], aad)
    with pytest.raises(ValueError):
        crypto.encrypt(b"short", b"x", aad)


def test_ciphertext_hides_the_plaintext():
    key = crypto.new_data_key()
    plaintext = b"\x89PNG\r\n\x1a\n" + b"a secret prompt" * 10
    envelope = crypto.encrypt(key, plaintext, crypto.object_aad("e", "original"))
    assert b"PNG" not in envelope and b"secret" not in envelope
    assert len(envelope) == len(plaintext) + 4 + 12 + 16
