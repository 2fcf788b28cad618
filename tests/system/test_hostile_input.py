"""Input built to crash a parser or an encoder gets a 400 in the API's error shape, never a 500:
JSON nested 100,000 deep on every JSON endpoint and on the socket, images wider than WEBP can
encode, HEIC files."""

from __future__ import annotations

import io

import pytest
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.chats.test_consumers import communicator, run_async

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_IN_OBJECT = '{"prompt": ' + DEEP + "}"


def _png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client, data: bytes, name: str = "x.png"):
    return client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile(name, data, "image/png")}, format="multipart"
    )


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(alice_api):
    image = _upload(alice_api, _png((40, 30))).json()["embed_id"]
    chat = alice_api.post("/v1/chats", {}, format="json").json()["chat_id"]
    endpoints = [
        ("post", "/v1/apps/images/generate"),
        ("post", "/v1/apps/images/edit"),
        ("post", "/v1/apps/images/reverse-search"),
        ("post", f"/v1/embeds/{image}/crop"),
        ("post", f"/v1/embeds/{image}/report"),
        ("post", "/v1/chats"),
        ("patch", f"/v1/chats/{chat}"),
        ("post", f"/v1/chats/{chat}/messages"),
    ]
    for method, path in endpoints:
        for body in (DEEP, DEEP_IN_OBJECT, "[" * 40 + "]" * 40):
            response = getattr(alice_api, method)(path, body, content_type="application/json")
            assert response.status_code == 400, (path, response.status_code, response.content[:200])
            error = response.json()["error"]
            assert error["code"] == "invalid_json", (path, error)
    assert (
        "32 levels"
        in alice_api.post("/v1/chats", DEEP, content_type="application/json").json()["error"]["message"]
    )


@pytest.mark.django_db
def test_nan_is_not_json(alice_api):
    response = alice_api.post("/v1/apps/images/generate", '{"prompt": NaN}', content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_deeply_nested_frame_gets_an_error_frame_and_the_socket_stays(alice):
    comm: WebsocketCommunicator = communicator(alice)
    assert (await comm.connect())[0]
    for frame in (DEEP, '{"type": "generate", "prompt": ' + DEEP + "}"):
        await comm.send_to(text_data=frame)
        reply = await comm.receive_json_from(timeout=10)
        assert reply["type"] == "error" and reply["error"]["code"] == "invalid_json", reply
    await comm.send_json_to({"type": "ping", "request_id": "r1"})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong", "request_id": "r1"}
    await comm.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("size", [(20000, 100), (100, 20000), (30000, 1), (1, 30000), (16384, 1)])
def test_a_side_past_the_webp_limit_is_a_400(alice_api, size):
    response = _upload(alice_api, _png(size, "L"))
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "side_too_long" and error["field"] == "file"


@pytest.mark.django_db
def test_the_widest_webp_side_is_accepted(alice_api):
    response = _upload(alice_api, _png((16383, 2), "L"))
    assert response.status_code == 201, response.content[:300]
    assert response.json()["files"]["full"]["width"] == 16383


@pytest.mark.django_db
@pytest.mark.parametrize("brand", [b"heic", b"mif1", b"avif"])
def test_heic_is_an_unsupported_format(alice_api, brand):
    heic = b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    response = _upload(alice_api, heic, "photo.heic")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_format"


@pytest.mark.django_db
def test_a_file_part_without_a_filename_is_named_as_such(alice_api):
    body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n\x89PNG...\r\n--b--\r\n'
    response = alice_api.post("/v1/embeds/upload", body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "missing_field" and "no filename" in error["message"]
