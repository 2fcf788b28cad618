"""What an operator with the database, the bucket, Redis and the logs can see of a client-mode
(private) image: ciphertext only. No plaintext image, no embed key, no master key, nor the key
that wraps it, and none of the image's name, type or dimensions."""

from __future__ import annotations

import json

import pytest

from embeds import client_mode, sealing, storage
from embeds.models import Embed, EmbedKey
from tests import client_crypto as cc
from tests.sharing.test_at_rest import _db_dump, _forms, _redis_values

pytestmark = pytest.mark.django_db(transaction=True)

META = {
    "type": "image",
    "source": "upload",
    "file_name": "secret-zeppelin-holiday.png",
    "files": {"original": {"width": 320, "height": 240, "format": "png", "mime": "image/png"}},
}


def test_private_image_at_rest(alice_api, caplog):
    caplog.set_level("DEBUG")
    master, body = cc.new_master_key(cc.PASSWORD)
    assert alice_api.post("/v1/account/master_key", body, format="json").status_code == 201
    embed_key, fields = cc.private_upload_fields(master, cc.RENDITIONS, META)
    response = alice_api.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 201, response.content
    embed_id = response.json()["embed_id"]
    # The reads leave nothing readable behind either.
    for variant in cc.RENDITIONS:
        assert alice_api.get(f"/v1/embeds/{embed_id}/file?format={variant}").status_code == 200
    assert alice_api.get(f"/v1/embed_keys?embed_id={embed_id}").status_code == 200
    assert alice_api.get(f"/v1/embeds/{embed_id}/content").status_code == 200

    wrapping = cc.wrapping_key(cc.PASSWORD, cc.unb64url(body["salt"]))
    secrets = [f for s in (master, embed_key, wrapping) for f in _forms(s)]
    plains = [data[16:80] for data in cc.RENDITIONS.values()] + [
        data[-64:] for data in cc.RENDITIONS.values()
    ]
    words = [b"zeppelin", b"320", b"image/png"]

    embed = Embed.objects.get(pk=embed_id)
    assert embed.encryption_mode == Embed.EncryptionMode.CLIENT
    # Even with the server's own keys, the sealed content says nothing about the image.
    sealed = sealing.open_embed(embed).content()
    assert sealed == client_mode.SEALED_CONTENT  # the same placeholder for every private image
    assert sealed.file_name is None and sealed.files is None and sealed.uploaded_at is None
    for variant in cc.RENDITIONS:
        inner = sealing.read_file(embed, variant)  # the server's outer layer removed
        assert inner.startswith(b"OMC1")
        assert cc.open_envelope(embed_key, variant, inner) == cc.RENDITIONS[variant]
    key_row = EmbedKey.objects.get(embed=embed)
    assert json.loads(cc.open_envelope(embed_key, "meta", cc.unb64url(key_row.encrypted_meta))) == META

    names = storage.list_objects()
    assert len(names) == 3
    for name in names:
        data = storage.get_object(name)
        assert data.startswith(b"OMI1"), name  # the server's envelope around the browser's
        assert not any(s in data for s in secrets) and not any(p in data for p in plains), name
        assert b"zeppelin" not in data
    dump = _db_dump()
    assert not any(s in dump for s in secrets) and not any(p in dump for p in plains)
    assert b"zeppelin" not in dump and b"image/png" not in dump
    for value in _redis_values():
        assert not any(s in value for s in secrets) and not any(p in value for p in plains)
        assert not any(w in value for w in words[:1])
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert logged and not any(s in logged for s in secrets)
    assert not any(p in logged for p in plains) and b"zeppelin" not in logged
