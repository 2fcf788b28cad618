"""Share links through the REST API and the public share URLs: the server stores ciphertext
it cannot read and enforces expiry, revocation, the password, isolation and the rate limit."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from embeds import storage
from sharing import actions, clock
from sharing.models import Share
from tests import share_crypto as sc

pytestmark = pytest.mark.django_db(transaction=True)


def _png(size=(320, 240), color=(200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client) -> str:
    file = SimpleUploadedFile("a.png", _png())
    response = client.post("/v1/embeds/upload", {"file": file}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["embed_id"]


def _create(client, embed_id: str, *, expires_in: str = "1d", password: str | None = None, **extra):
    """Act as the owner's browser: fetch the copy, encrypt it, upload ciphertext only."""
    copy = client.get(f"/v1/shares/copy?embed_id={embed_id}")
    assert copy.status_code == 200, copy.content
    share_key = os.urandom(32)
    fields = {"embed_id": embed_id, "expires_in": expires_in, **extra}
    fragment = share_key
    if password is not None:
        secret, salt = os.urandom(32), os.urandom(16)
        wrap_key, verifier = sc.password_keys(password, salt, secret)
        fields.update(
            password_salt=sc.b64url(salt),
            password_iterations=str(sc.ITERATIONS),
            wrapped_key=sc.wrap(wrap_key, share_key),
            verifier=verifier,
        )
        fragment = secret
    envelope = sc.seal(share_key, {"mime": "image/webp", "ai_made": False}, copy.content)
    fields["file"] = SimpleUploadedFile("share", envelope)
    response = client.post("/v1/shares", fields, format="multipart")
    return response, fragment, copy.content


def test_create_open_and_decrypt(alice_api):
    embed_id = _upload(alice_api)
    response, key, plain = _create(alice_api, embed_id)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["path"] == f"/s/{body['share_id']}" and len(body["share_id"]) >= 22  # 128 random bits
    assert body["has_password"] is False and body["view_count"] == 0
    visitor = Client()
    page = visitor.get(body["path"])
    assert page.status_code == 200
    assert b"share-page.js" in page.content and b"<script>" not in page.content
    data = visitor.get(body["path"] + "/data")
    assert data.status_code == 200 and data["Content-Type"] == "application/octet-stream"
    meta, image = sc.open_envelope(key, data.content)
    assert image == plain and image.startswith(b"RIFF") and meta == {"mime": "image/webp", "ai_made": False}
    listed = alice_api.get("/v1/shares").json()["shares"]
    assert [s["share_id"] for s in listed] == [body["share_id"]] and listed[0]["view_count"] == 1


def test_isolation_and_clear_400s(alice_api, bob_api):
    embed_id = _upload(alice_api)
    created = _create(alice_api, embed_id)[0].json()
    assert bob_api.get("/v1/shares").json()["shares"] == []
    assert bob_api.delete(f"/v1/shares/{created['share_id']}").status_code == 404
    assert bob_api.get(f"/v1/shares/{created['share_id']}").status_code == 404
    assert bob_api.get(f"/v1/shares/copy?embed_id={embed_id}").status_code == 404
    bob_try = bob_api.post(
        "/v1/shares",
        {"embed_id": embed_id, "expires_in": "1d", "file": SimpleUploadedFile("s", b"OMS1" + os.urandom(40))},
        format="multipart",
    )
    assert bob_try.status_code == 404
    cases = [
        ({"expires_in": "1d"}, "embed_id", "missing_field"),
        ({"embed_id": embed_id, "expires_in": "2d"}, "expires_in", "invalid_value"),
        ({"embed_id": embed_id, "expires_in": "1d"}, "file", "missing_field"),
        ({"embed_id": embed_id, "expires_in": "1d", "file": b"\x89PNG plaintext"}, "file", "invalid_value"),
        ({"embed_id": embed_id, "expires_in": "1d", "verifier": "abc"}, "password_salt", "missing_field"),
    ]
    for fields, field, code in cases:
        if "file" in fields:
            fields = {**fields, "file": SimpleUploadedFile("s", fields["file"])}
        response = alice_api.post("/v1/shares", fields, format="multipart")
        assert response.status_code == 400, (fields, response.content)
        assert response.json()["error"]["field"] == field and response.json()["error"]["code"] == code
    low = _create(alice_api, embed_id, password="pw", expires_in="1h")
    assert low[0].status_code == 201  # the helper uses OWASP's count; a lower one is refused:
    weak = alice_api.post(
        "/v1/shares",
        {
            "embed_id": embed_id,
            "expires_in": "1d",
            "password_salt": sc.b64url(os.urandom(16)),
            "password_iterations": "1000",
            "wrapped_key": sc.b64url(os.urandom(60)),
            "verifier": sc.b64url(os.urandom(32)),
            "file": SimpleUploadedFile("s", b"OMS1" + os.urandom(40)),
        },
        format="multipart",
    )
    assert weak.status_code == 400 and weak.json()["error"]["field"] == "password_iterations"
    assert Share.objects.count() == 2  # nothing half-written by the refused requests
    assert len(storage.list_objects()) == 3 + 2


def _gone_shape(response) -> tuple:
    return response.status_code, response.content


def test_unknown_expired_and_revoked_are_the_same_410(alice_api, monkeypatch):
    embed_id = _upload(alice_api)
    expiring = _create(alice_api, embed_id, expires_in="1h")[0].json()
    revoked = _create(alice_api, embed_id, expires_in="never")[0].json()
    assert len(storage.list_objects()) == 3 + 2
    revoked_share = Share.objects.get(pk=revoked["share_id"])
    assert alice_api.delete(f"/v1/shares/{revoked['share_id']}").status_code == 204
    with pytest.raises(storage.ObjectMissing):  # revocation deletes the ciphertext at once
        storage.get_object(actions.object_name(revoked_share))

    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)  # the clock moves past the 1-hour expiry
    visitor = Client()
    unknown_id = Share._meta.get_field("id").default()
    pages = {
        name: visitor.get(f"/s/{sid}")
        for name, sid in (
            ("unknown", unknown_id),
            ("expired", expiring["share_id"]),
            ("revoked", revoked["share_id"]),
        )
    }
    datas = {
        name: visitor.get(f"/s/{sid}/data")
        for name, sid in (
            ("unknown", unknown_id),
            ("expired", expiring["share_id"]),
            ("revoked", revoked["share_id"]),
        )
    }
    assert {_gone_shape(r) for r in pages.values()} == {_gone_shape(pages["unknown"])}
    assert pages["unknown"].status_code == 410
    assert {_gone_shape(r) for r in datas.values()} == {_gone_shape(datas["unknown"])}
    assert datas["unknown"].status_code == 410
    # The expired share's ciphertext goes with the next purge (the owner's list runs one).
    assert Share.objects.filter(pk=expiring["share_id"]).exists()
    assert alice_api.get("/v1/shares").json()["shares"] == []
    assert not Share.objects.exists()
    assert len(storage.list_objects()) == 3


def test_every_expiry_choice_is_enforced(alice_api, monkeypatch):
    embed_id = _upload(alice_api)
    start = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    ids = {
        choice: _create(alice_api, embed_id, expires_in=choice)[0].json()["share_id"]
        for choice in actions.EXPIRY_CHOICES
    }
    visitor = Client()
    for choice, delta in actions.EXPIRY_CHOICES.items():
        if delta is None:
            continue
        monkeypatch.setattr(clock, "now", lambda d=delta: start + d - timedelta(seconds=1))
        assert visitor.get(f"/s/{ids[choice]}").status_code == 200, choice
        monkeypatch.setattr(clock, "now", lambda d=delta: start + d)
        assert visitor.get(f"/s/{ids[choice]}").status_code == 410, choice
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(days=3650))
    assert visitor.get(f"/s/{ids['never']}").status_code == 200
    assert actions.purge_expired() == 4
    assert list(Share.objects.values_list("pk", flat=True)) == [ids["never"]]


def test_password_is_enforced_by_the_server(alice_api):
    embed_id = _upload(alice_api)
    response, secret, plain = _create(alice_api, embed_id, password="correct horse")
    share = response.json()
    assert share["has_password"] is True
    visitor = Client()
    page = visitor.get(share["path"]).content.decode()
    row = Share.objects.get(pk=share["share_id"])
    assert f'data-salt="{row.password_salt}"' in page and 'data-iterations="600000"' in page
    assert visitor.get(share["path"] + "/data").status_code == 403  # no verifier, no ciphertext
    _, wrong = sc.password_keys("wrong horse", sc.unb64url(row.password_salt), secret)
    refused = visitor.post(share["path"] + "/data", {"verifier": wrong}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_password"
    assert "X-Share-Wrapped-Key" not in refused and b"OMS1" not in refused.content
    wrap_key, right = sc.password_keys("correct horse", sc.unb64url(row.password_salt), secret)
    opened = visitor.post(share["path"] + "/data", {"verifier": right}, content_type="application/json")
    assert opened.status_code == 200
    share_key = sc.unwrap(wrap_key, opened["X-Share-Wrapped-Key"])
    assert sc.open_envelope(share_key, opened.content)[1] == plain
    assert Share.objects.get(pk=share["share_id"]).view_count == 1  # refusals are not views


def test_share_pages_are_rate_limited_per_ip(alice_api, settings):
    settings.SHARE_RATE_PER_MINUTE = 5
    from django.core.cache import cache

    cache.clear()
    embed_id = _upload(alice_api)
    path = _create(alice_api, embed_id)[0].json()["path"]
    visitor = Client(REMOTE_ADDR="203.0.113.7")
    codes = [visitor.get(path).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert visitor.get("/s/unknown-id").status_code == 429  # unknown ids count too
    assert Client(REMOTE_ADDR="203.0.113.8").get(path).status_code == 200


def test_deleting_the_embed_or_account_deletes_its_shares(alice_api, alice):
    embed_id = _upload(alice_api)
    _create(alice_api, embed_id)
    _create(alice_api, embed_id, expires_in="never")
    assert len(storage.list_objects()) == 5
    assert alice_api.delete(f"/v1/embeds/{embed_id}").status_code == 204
    assert storage.list_objects() == [] and not Share.objects.exists()
    other = _upload(alice_api)
    _create(alice_api, other)
    from accounts.deletion import do_delete_account

    do_delete_account(alice)
    assert storage.list_objects() == [] and not Share.objects.exists()


def test_orphan_sweeper_keeps_share_ciphertext(alice_api):
    from embeds.maintenance import sweep_orphaned_objects

    embed_id = _upload(alice_api)
    _create(alice_api, embed_id)
    assert sweep_orphaned_objects(older_than=timedelta(0)) == []
    assert len(storage.list_objects()) == 4


def test_settings_page_lists_and_revokes(alice, alice_api):
    embed_id = _upload(alice_api)
    share = _create(alice_api, embed_id, expires_in="never")[0].json()
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/settings/").content.decode()
    assert f'data-share-id="{share["share_id"]}"' in page and ">never<" in page
    assert browser.post(f"/settings/shares/{share['share_id']}/revoke").status_code == 302
    assert not Share.objects.exists()
    assert Client().get(share["path"]).status_code == 410


def test_prompt_less_copy_keeps_the_ai_label(alice_api, worker):
    from tests.conftest import wait_for_task

    task = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "A violet zeppelin over Lisbon"}, format="json"
    ).json()
    done = wait_for_task(alice_api, task["task_id"])
    embed_id = done["embed_id"]
    stored = alice_api.get(f"/v1/embeds/{embed_id}/file?format=full").content
    kept = alice_api.get(f"/v1/shares/copy?embed_id={embed_id}").content
    dropped = alice_api.get(f"/v1/shares/copy?embed_id={embed_id}&include_prompt=false").content
    assert kept == stored  # the full WEBP as stored, XMP and C2PA intact
    assert b"zeppelin" in stored and b"zeppelin" not in dropped

    def exif(data: bytes) -> str:
        return subprocess.run(
            ["exiftool", "-XMP:all", "-"], input=data, capture_output=True, check=True
        ).stdout.decode()

    assert "trainedAlgorithmicMedia" in exif(dropped) and "zeppelin" not in exif(dropped)
    import c2pa

    with c2pa.Reader("image/webp", io.BytesIO(dropped)) as reader:
        assert "c2pa.created" in reader.json()
