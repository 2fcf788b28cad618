"""What an operator with the database, the bucket, Redis and the logs can see of a share link:
ciphertext, never the share key, the password's derived keys or the image."""

from __future__ import annotations

import base64
import os

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from embeds import storage
from sharing import actions
from sharing.models import Share
from tests import share_crypto as sc
from tests.sharing.test_api import _upload

pytestmark = pytest.mark.django_db(transaction=True)


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        sc.b64url(secret).encode(),
    ]


def _redis_values() -> list[bytes]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    values: list[bytes] = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        values.append(key)
        if kind == b"string":
            values.append(client.get(key) or b"")
        elif kind == b"list":
            values.extend(client.lrange(key, 0, -1))
        elif kind == b"hash":
            values.extend(client.hgetall(key).values())
    return values


def _db_dump() -> bytes:
    cells: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            cells.extend(
                bytes(cell) if isinstance(cell, bytes | memoryview) else str(cell).encode()
                for row in cursor.fetchall()
                for cell in row
            )
    return b"\x00".join(cells)


def test_no_share_key_or_plaintext_at_rest(alice_api, caplog):
    caplog.set_level("DEBUG")
    embed_id = _upload(alice_api)
    plain = alice_api.get(f"/v1/shares/copy?embed_id={embed_id}").content
    share_key, secret, salt = os.urandom(32), os.urandom(32), os.urandom(16)
    wrap_key, verifier = sc.password_keys("hunter2 hunter2", salt, secret)
    envelope = sc.seal(share_key, {"mime": "image/webp", "prompt": "A secret violet zeppelin"}, plain)
    response = alice_api.post(
        "/v1/shares",
        {
            "embed_id": embed_id,
            "expires_in": "7d",
            "password_salt": sc.b64url(salt),
            "password_iterations": str(sc.ITERATIONS),
            "wrapped_key": sc.wrap(wrap_key, share_key),
            "verifier": verifier,
            "file": SimpleUploadedFile("share", envelope),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    share_id = response.json()["share_id"]
    opened = Client().post(f"/s/{share_id}/data", {"verifier": verifier}, content_type="application/json")
    assert opened.status_code == 200  # the visit itself leaves nothing readable behind either

    secrets = [f for s in (share_key, secret, wrap_key, sc.unb64url(verifier)) for f in _forms(s)]
    share = Share.objects.get(pk=share_id)
    stored = storage.get_object(actions.object_name(share))
    assert stored == envelope  # exactly the browser's ciphertext, nothing else
    assert not stored.startswith((b"RIFF", b"\x89PNG")) and plain[16:80] not in stored
    for name in storage.list_objects():
        data = storage.get_object(name)
        assert not any(s in data for s in secrets), name
        assert b"zeppelin" not in data and plain[16:80] not in data, name
    dump = _db_dump()
    assert not any(s in dump for s in secrets)
    assert b"zeppelin" not in dump and plain[16:80] not in dump
    assert share.verifier_hash.encode() in dump  # what the server holds: a hash of the verifier
    for value in _redis_values():
        assert not any(s in value for s in secrets) and b"zeppelin" not in value
        assert share_id.encode() not in value  # rate-limit counters are keyed by a hashed IP
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert logged and not any(s in logged for s in secrets)
    assert share_id.encode() not in logged and b"zeppelin" not in logged
