"""Zero-knowledge images through the REST API: private uploads, the
embed_keys collection (owner only), the octet-stream download and the refusals of what the
server cannot do without pixels."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from embeds.models import Embed, EmbedKey
from tests import client_crypto as cc

pytestmark = pytest.mark.django_db(transaction=True)


RENDITIONS = cc.RENDITIONS
META = {"file_name": "holiday.png", "files": {"original": {"width": 320, "height": 240, "format": "png"}}}


def _private_upload(client, master: bytes) -> tuple[str, bytes]:
    embed_key, fields = cc.private_upload_fields(master, RENDITIONS, META)
    response = client.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["encryption_mode"] == "client" and body["status"] == "finished"
    return body["embed_id"], embed_key


def test_private_upload_download_and_decrypt(alice_api):
    master = cc.register_master_key(alice_api)
    embed_id, embed_key = _private_upload(alice_api, master)
    for variant, plain in RENDITIONS.items():
        response = alice_api.get(f"/v1/embeds/{embed_id}/file?format={variant}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Encryption-Mode"] == "client"
        assert response.content.startswith(b"OMC1") and plain not in response.content
        assert cc.open_envelope(embed_key, variant, response.content) == plain
    keys = alice_api.get(f"/v1/embed_keys?embed_id={embed_id}").json()["embed_keys"]
    assert len(keys) == 1 and keys[0]["embed_id"] == embed_id
    assert cc.open_key(master, keys[0]["wrapped_key"], cc.EMBED_KEY_AAD) == embed_key
    meta = cc.open_envelope(embed_key, "meta", cc.unb64url(keys[0]["encrypted_meta"]))
    assert json.loads(meta) == META
    # What the server keeps about it says nothing of the image: no name, type or dimensions.
    content = alice_api.get(f"/v1/embeds/{embed_id}/content").json()
    assert content["encryption_mode"] == "client" and content["files"] is None
    assert "file_name" not in content and "holiday" not in json.dumps(content)


def test_vault_file_has_no_mode_header(alice_api):
    response = alice_api.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", RENDITIONS["original"])}, format="multipart"
    )
    embed_id = response.json()["embed_id"]
    assert response.json()["encryption_mode"] == "vault"
    download = alice_api.get(f"/v1/embeds/{embed_id}/file?format=preview")
    assert download["Content-Type"] == "image/webp" and "X-Encryption-Mode" not in download
    assert alice_api.get(f"/v1/embed_keys?embed_id={embed_id}").json() == {"embed_keys": []}


def test_embed_keys_isolation(alice_api, bob_api):
    master = cc.register_master_key(alice_api)
    embed_id, _ = _private_upload(alice_api, master)
    missing = "00000000-0000-4000-8000-000000000000"
    # Someone else's embed answers exactly like one that does not exist.
    assert bob_api.get(f"/v1/embed_keys?embed_id={embed_id}").json() == {"embed_keys": []}
    assert bob_api.get(f"/v1/embed_keys?embed_id={missing}").json() == {"embed_keys": []}
    theirs = bob_api.get(f"/v1/embeds/{embed_id}/file?format=original")
    nothing = bob_api.get(f"/v1/embeds/{missing}/file?format=original")
    assert theirs.status_code == nothing.status_code == 404 and theirs.json() == nothing.json()
    both = alice_api.get(f"/v1/embed_keys?embed_id={embed_id},{missing}").json()["embed_keys"]
    assert [k["embed_id"] for k in both] == [embed_id]
    bad = alice_api.get("/v1/embed_keys?embed_id=nope")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "embed_id"
    assert alice_api.get("/v1/embed_keys").json()["error"]["code"] == "missing_field"


@pytest.mark.parametrize("variant", ["original", "full", "preview"])
def test_private_upload_refuses_plain_images(alice_api, variant):
    master = cc.register_master_key(alice_api)
    _, fields = cc.private_upload_fields(master, RENDITIONS, META)
    fields[variant] = SimpleUploadedFile(variant, RENDITIONS[variant])  # not encrypted
    response = alice_api.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["field"] == variant
    assert not Embed.objects.exists() and not EmbedKey.objects.exists()


def test_private_upload_needs_every_part(alice_api):
    master = cc.register_master_key(alice_api)
    _, fields = cc.private_upload_fields(master, RENDITIONS, META)
    del fields["preview"]
    response = alice_api.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 400 and response.json()["error"] == {
        "code": "missing_field",
        "message": "Send the encrypted preview as a file part.",
        "field": "preview",
    }
    _, fields = cc.private_upload_fields(master, RENDITIONS, META)
    fields["wrapped_key"] = cc.b64url(b"x" * 10)
    response = alice_api.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["field"] == "wrapped_key"


def test_size_limit_applies_to_ciphertext(alice_api, settings):
    master = cc.register_master_key(alice_api)
    settings.EMBEDS = {**settings.EMBEDS, "UPLOAD_MAX_BYTES": sum(map(len, RENDITIONS.values()))}
    _, fields = cc.private_upload_fields(master, RENDITIONS, META)  # ciphertext is 32 bytes longer each
    response = alice_api.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    assert not Embed.objects.exists()


def test_server_refuses_pixel_work_on_private_images(alice_api):
    embed_id, _ = _private_upload(alice_api, cc.register_master_key(alice_api))
    attempts = [
        ("/v1/embeds/{id}/crop", {"x": 0, "y": 0, "width": 10, "height": 10}),
        ("/v1/apps/images/edit", {"embed_id": "{id}", "prompt": "make it red"}),
        ("/v1/apps/images/analyze", {"embed_id": "{id}", "question": "What is this?"}),
        ("/v1/apps/images/reverse-search", {"embed_id": "{id}"}),
    ]
    for path, body in attempts:
        body = {k: v.replace("{id}", embed_id) if isinstance(v, str) else v for k, v in body.items()}
        response = alice_api.post(path.replace("{id}", embed_id), body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["code"] == "client_encrypted", path
    assert alice_api.get(f"/v1/embeds/{embed_id}/provenance").json()["error"]["code"] == "client_encrypted"
    copy = alice_api.get(f"/v1/shares/copy?embed_id={embed_id}")
    assert copy.status_code == 400 and copy.json()["error"]["code"] == "client_encrypted"


def test_consented_copy_is_vault_and_linked(alice_api):
    embed_id, embed_key = _private_upload(alice_api, cc.register_master_key(alice_api))
    original = cc.open_envelope(
        embed_key, "original", alice_api.get(f"/v1/embeds/{embed_id}/file?format=original").content
    )
    response = alice_api.post(
        "/v1/embeds/upload",
        {"file": SimpleUploadedFile("holiday.png", original), "derived_from": embed_id},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    copy = response.json()
    assert copy["encryption_mode"] == "vault" and copy["derived_from"] == embed_id
    crop = alice_api.post(
        f"/v1/embeds/{copy['embed_id']}/crop", {"x": 0, "y": 0, "width": 10, "height": 10}, format="json"
    )
    assert crop.status_code == 201
    # The private original stays private.
    assert alice_api.get(f"/v1/embeds/{embed_id}/content").json()["encryption_mode"] == "client"


def test_delete_private_image_deletes_its_key(alice_api):
    embed_id, _ = _private_upload(alice_api, cc.register_master_key(alice_api))
    assert alice_api.delete(f"/v1/embeds/{embed_id}").status_code == 204
    assert not EmbedKey.objects.exists()
