"""The gallery's bulk operations (embeds/api/gallery.py): delete a selection all-or-nothing, and
download its decrypted originals as a streamed ZIP that names what it could not include."""

from __future__ import annotations

import io
import zipfile

import pytest

from embeds import storage
from embeds.models import Embed
from tests import client_crypto as cc
from tests.factories import GenerationTaskFactory, UploadedImageFactory, png_bytes

pytestmark = pytest.mark.django_db


def _images(owner, count: int, **kwargs) -> list[Embed]:
    return [
        UploadedImageFactory(owner=owner, data=png_bytes((40 + i, 30), (i * 30 % 255, 90, 20)), **kwargs)
        for i in range(count)
    ]


def _stored_names(embed: Embed) -> list[str]:
    return [storage.object_name(embed.owner_id, embed.id, v) for v in ("original", "full", "preview")]


def _private_image(client) -> str:
    master = cc.register_master_key(client)
    _, fields = cc.private_upload_fields(master, cc.RENDITIONS, {"file_name": "secret.png"})
    response = client.post("/v1/embeds/upload", fields, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["embed_id"]


def _zip(client, ids) -> zipfile.ZipFile:
    response = client.post("/v1/embeds/download.zip", {"embed_ids": [str(i) for i in ids]}, format="json")
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="images.zip"'
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_bulk_delete_removes_each_image_and_its_files(alice, alice_api):
    doomed, kept = _images(alice, 2), _images(alice, 1)[0]
    names = [n for e in doomed for n in _stored_names(e)]
    assert set(names) <= set(storage.list_objects())
    response = alice_api.post(
        "/v1/embeds/bulk-delete", {"embed_ids": [str(e.id) for e in doomed]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "deleted": [str(e.id) for e in doomed],
        "total_bytes": kept.stored_bytes,
        "total_images": 1,
    }
    assert list(Embed.objects.filter(owner=alice)) == [kept]
    assert not set(names) & set(storage.list_objects())
    assert alice_api.get(f"/v1/embeds/{doomed[0].id}/file").status_code == 404


def test_bulk_delete_is_all_or_nothing_on_ownership(alice, bob, alice_api):
    mine = _images(alice, 2)
    bobs = _images(bob, 1)[0]
    ids = [str(mine[0].id), str(bobs.id), str(mine[1].id)]
    foreign = alice_api.post("/v1/embeds/bulk-delete", {"embed_ids": ids}, format="json")
    missing = alice_api.post(
        "/v1/embeds/bulk-delete",
        {"embed_ids": [str(mine[0].id), "00000000-0000-4000-8000-000000000000"]},
        format="json",
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["error"]["field"] == "embed_ids"
    assert Embed.objects.filter(owner=alice).count() == 2  # nothing deleted
    assert Embed.objects.filter(pk=bobs.pk).exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"embed_ids": []}, {"embed_ids": ["nope"]}, {"embed_ids": "x"}, {"embed_ids": [], "all": True}],
)
def test_a_bad_selection_is_a_clear_400(alice_api, body):
    for path in ("/v1/embeds/bulk-delete", "/v1/embeds/download.zip"):
        response = alice_api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["code"]


def test_a_selection_is_at_most_200_images(alice_api):
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(201)]
    response = alice_api.post("/v1/embeds/bulk-delete", {"embed_ids": ids}, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "embed_ids"


def test_zip_holds_the_decrypted_originals_named_after_them(alice, alice_api):
    photo = UploadedImageFactory(owner=alice, data=png_bytes((64, 48)), file_name="Sommer Ferien.PNG")
    generated = GenerationTaskFactory(owner=alice, prompt="A red boat, at dawn!")  # not made yet
    archive = _zip(alice_api, [photo.id, generated.embed_id])
    names = archive.namelist()
    assert names == [f"sommer-ferien-{str(photo.id)[:8]}.png", "NOT-INCLUDED.txt"]
    original = alice_api.get(f"/v1/embeds/{photo.id}/file?format=original").content
    assert archive.read(names[0]) == original
    assert archive.getinfo(names[0]).compress_type == zipfile.ZIP_STORED
    note = archive.read("NOT-INCLUDED.txt").decode()
    assert f"{generated.embed_id}  not finished" in note
    assert archive.testzip() is None


def test_zip_names_private_images_it_cannot_read(alice, alice_api):
    photo = _images(alice, 1)[0]
    private_id = _private_image(alice_api)
    archive = _zip(alice_api, [private_id, photo.id])
    assert archive.namelist() == [f"upload-{str(photo.id)[:8]}.png", "NOT-INCLUDED.txt"]
    note = archive.read("NOT-INCLUDED.txt").decode()
    assert f"{private_id}  private" in note
    assert b"OMC1" not in archive.read(archive.namelist()[0])


def test_zip_of_many_images_streams_one_chunk_per_file(alice, alice_api):
    images = _images(alice, 5)
    response = alice_api.post(
        "/v1/embeds/download.zip", {"embed_ids": [str(e.id) for e in images]}, format="json"
    )
    chunks = list(response.streaming_content)
    assert len(chunks) == 6  # a chunk per file as it is done, then the directory
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert len(archive.namelist()) == 5
    for embed in images:
        [name] = [n for n in archive.namelist() if str(embed.id)[:8] in n]
        assert archive.read(name) == alice_api.get(f"/v1/embeds/{embed.id}/file?format=original").content


def test_zip_refuses_someone_elses_ids_like_missing_ones(alice, bob, alice_api):
    mine, bobs = _images(alice, 1)[0], _images(bob, 1)[0]
    foreign = alice_api.post(
        "/v1/embeds/download.zip", {"embed_ids": [str(mine.id), str(bobs.id)]}, format="json"
    )
    assert foreign.status_code == 404 and not foreign.streaming
    assert foreign.json()["error"] == {
        "code": "not_found",
        "message": "One of the images does not exist.",
        "field": "embed_ids",
    }


def test_bulk_operations_need_authentication(client):
    assert client.post("/v1/embeds/bulk-delete", {}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert client.post("/v1/embeds/download.zip", {}, content_type="application/json").status_code in (
        401,
        403,
    )


@pytest.mark.django_db(transaction=True)
def test_under_asgi_the_zip_is_streamed_a_file_at_a_time(alice, alice_api):
    """Through the real ASGI application: one body message per file (Django would gather a
    sync iterator into a list under ASGI, with a warning), the same archive."""
    import asyncio
    import json
    import warnings

    from accounts.api_keys import do_create_api_key
    from openmates_images.asgi import application

    images = _images(alice, 3)
    body = json.dumps({"embed_ids": [str(e.id) for e in images]}).encode()
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.Future()

    async def send(message):
        sent.append(message)

    key = do_create_api_key(alice).raw_key
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/embeds/download.zip",
        "raw_path": b"/v1/embeds/download.zip",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(application(scope, receive, send))
    assert not [w for w in caught if "StreamingHttpResponse" in str(w.message)]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 200
    chunks = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert len(chunks) == 4  # three files, then the directory
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert sorted(archive.namelist()) == sorted(f"upload-{str(e.id)[:8]}.png" for e in images)
