"""What an operator with the bucket, the database and Redis can see: ciphertext only."""

from __future__ import annotations

import dataclasses
import io

import pytest
import redis
from django.conf import settings
from django.db import connection
from PIL import Image

from embeds import crypto, storage
from embeds.models import Embed
from generation.models import Task
from generation.pipeline.runner import run_task
from tests.conftest import wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "Secret prompt about a violet zeppelin"
MAGICS = (b"\x89PNG", b"RIFF", b"\xff\xd8\xff", b"GIF8")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (1, 2, 3)).save(buffer, "PNG")
    return buffer.getvalue()


def _generate_and_upload(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    task = client.post(
        "/v1/apps/images/generate", {"prompt": PROMPT, "aspect_ratio": "4:3"}, format="json"
    ).json()
    done = wait_for_task(client, task["task_id"])
    assert done["status"] == "completed"
    upload = client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("zeppelin.png", _png())}, format="multipart"
    )
    assert upload.status_code == 201
    return done


def _forms(key: bytes) -> list[bytes]:
    """The ways a leaked key could be written down."""
    import base64

    return [key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)]


def test_objects_rows_redis_and_logs_hold_no_plaintext(alice_api, worker, s3_server, caplog):
    from embeds.sealing import open_embed

    caplog.set_level("DEBUG")
    _generate_and_upload(alice_api)
    data_keys = [form for embed in Embed.objects.all() for form in _forms(open_embed(embed).data_key)]
    assert len(data_keys) == 8
    logged = "\n".join(record.getMessage() for record in caplog.records).encode()
    assert logged and b"zeppelin" not in logged.lower()
    assert not any(key in logged for key in data_keys)
    names = storage.list_objects()
    assert len(names) == 6  # three renditions each for the generation and the upload; no staging left
    nonces = set()
    for name in names:
        assert "." not in name.rsplit("/", 1)[-1]  # no extension or variant hint
        for hint in ("original", "full", "preview", "generated", "upload", "png", "webp"):
            assert hint not in name
        data = storage.get_object(name)
        assert not data.startswith(MAGICS)
        assert not any(key in data for key in data_keys)
        assert PROMPT.encode() not in data and b"zeppelin" not in data
        nonces.add(crypto.nonce_of(data))
        head = s3_server.head_object(Bucket=settings.S3_BUCKET, Key=name)
        assert head["ContentType"] == "application/octet-stream"
    assert len(nonces) == len(names)

    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names() if not t.startswith("django_")]
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            cells = [
                bytes(cell) if isinstance(cell, bytes | memoryview) else str(cell).encode()
                for row in cursor.fetchall()
                for cell in row
            ]
            dump = b"\x00".join(cells)
            assert b"zeppelin" not in dump.lower(), table
            assert not any(key in dump for key in data_keys), table

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"hash":
            values = list(client.hgetall(key).values())
        elif kind == b"zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            values = []
        for value in values:
            assert b"zeppelin" not in value.lower(), key
            assert not any(data_key in value for data_key in data_keys), key


def test_wrapped_key_is_not_the_data_key(alice_api, worker):
    _generate_and_upload(alice_api)
    from embeds.sealing import open_embed

    for embed in Embed.objects.all():
        data_key = open_embed(embed).data_key
        assert len(data_key) == 32
        assert data_key.hex() not in embed.wrapped_key
        import base64

        assert base64.b64encode(data_key).decode() not in embed.wrapped_key


def test_swapped_objects_do_not_decrypt(alice_api, worker):
    done = _generate_and_upload(alice_api)
    embed = Embed.objects.get(pk=done["embed_id"])
    full = storage.object_name(embed.owner_id, embed.id, "full")
    preview = storage.object_name(embed.owner_id, embed.id, "preview")
    storage.put_object(preview, storage.get_object(full))  # an attacker swaps two variants
    response = alice_api.get(f"/v1/embeds/{embed.id}/file?format=preview")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "integrity_error"


def test_redelivered_message_does_not_duplicate(alice_api, worker):
    done = _generate_and_upload(alice_api)
    before = sorted(storage.list_objects())
    run_task(done["task_id"])  # the same message again, after completion: nothing happens
    assert sorted(storage.list_objects()) == before
    assert Task.objects.get(pk=done["task_id"]).attempts == 1


def test_redelivery_after_a_crash_resumes_without_calling_the_provider_again(alice_api, worker):
    """A worker died after the provider's image was staged: the redelivered message finishes
    from the staged image. The prompt now says [[fail:…]], so a second provider call would fail."""
    from embeds.sealing import open_embed

    done = _generate_and_upload(alice_api)
    before = sorted(storage.list_objects())
    embed = Embed.objects.get(pk=done["embed_id"])
    opened = open_embed(embed)
    content = opened.content()
    opened.store_file("staging", opened.load_file("original"))  # as the provider stage left it
    opened.seal_content(dataclasses.replace(content, prompt=content.prompt + " [[fail:internal]]"))
    embed.status = Embed.Status.PROCESSING
    embed.save()
    from datetime import timedelta

    from django.utils import timezone

    stale = timezone.now() - timedelta(hours=1)  # the dead worker's last heartbeat
    Task.objects.filter(pk=done["task_id"]).update(
        status=Task.Status.PROCESSING, progress=70, heartbeat_at=stale
    )
    run_task(done["task_id"])
    task = Task.objects.get(pk=done["task_id"])
    assert task.status == "completed", task.error_message
    assert task.attempts == 2
    assert sorted(storage.list_objects()) == before  # same names overwritten, staging removed
    assert Embed.objects.count() == 2
