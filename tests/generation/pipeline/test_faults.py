"""When dependencies fail: downloads answer 503 + Retry-After, jobs retry and still finish, and
hostile uploads never cause a 5xx or a stuck embed."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from embeds.models import Embed
from generation.models import Task
from tests.conftest import wait_for_task

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def _finished_generation(client) -> dict:
    task = client.post("/v1/apps/images/generate", {"prompt": "harbour"}, format="json").json()
    done = wait_for_task(client, task["task_id"])
    assert done["status"] == "completed"
    return done


def test_download_while_vault_fails_is_503_then_recovers(alice_api, worker, vault_server):
    from embeds.keyring.cache import data_keys

    done = _finished_generation(alice_api)
    data_keys.clear()  # the polls cached the data key; a key not in the cache needs Vault
    vault_server.fail_next(1, status=503)
    response = alice_api.get(f"/v1/embeds/{done['embed_id']}/file?format=full")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "service_unavailable"
    assert alice_api.get(f"/v1/embeds/{done['embed_id']}/file?format=full").status_code == 200


def test_download_while_s3_is_unreachable_is_503(alice_api, worker, settings):
    done = _finished_generation(alice_api)
    chatfiles = settings.STORAGES["chatfiles"]
    settings.STORAGES = {
        **settings.STORAGES,
        "chatfiles": {**chatfiles, "OPTIONS": {**chatfiles["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"}},
    }
    response = alice_api.get(f"/v1/embeds/{done['embed_id']}/file?format=preview")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert b"Traceback" not in response.content


def test_generation_survives_a_vault_outage(alice_api, worker, vault_server):
    worker.pause()  # so the worker cannot reach Vault before the outage begins
    task = alice_api.post("/v1/apps/images/generate", {"prompt": "harbour at night"}, format="json").json()
    vault_server.fail_next(2, status=500)  # the worker's first unwraps fail; it retries with backoff
    worker.resume()
    done = wait_for_task(alice_api, task["task_id"], timeout=30)
    assert done["status"] == "completed", done
    assert done["attempts"] >= 2


def test_upload_while_vault_is_down_is_503_and_writes_nothing(alice_api, vault_server):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, "PNG")
    vault_server.fail_next(1, status=503)
    response = alice_api.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", buffer.getvalue())}, format="multipart"
    )
    assert response.status_code == 503
    assert not Embed.objects.exists()


# --- a corpus of hostile uploads --------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def hostile_corpus() -> list[tuple[str, bytes]]:
    """At least 100 malformed or hostile files, built here (no fixtures on disk)."""
    rgb = Image.new("RGB", (97, 61), (200, 100, 50))
    samples: list[tuple[str, bytes]] = []
    good = {
        "png": _encode(rgb, "PNG"),
        "jpg": _encode(rgb, "JPEG", quality=90),
        "webp": _encode(rgb, "WEBP", quality=80),
        "gif": _encode(rgb.convert("P"), "GIF"),
    }
    for ext, data in good.items():
        for cut in (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97):  # truncations
            samples.append((f"truncated-{cut}.{ext}", data[: max(1, int(len(data) * cut))]))
        for name_ext in ("png", "jpg", "webp", "gif", "txt"):  # wrong extension vs magic
            samples.append((f"renamed.{name_ext}", data))
        flipped = bytearray(data)
        for i in range(len(flipped) // 3, len(flipped) // 3 + 16):
            flipped[i] ^= 0xFF
        samples.append((f"corrupted.{ext}", bytes(flipped)))
    for width, height in ((100_000, 100_000), (65_535, 65_535), (50_000, 1), (1, 60_000_000 // 1 + 1)):
        samples.append((f"bomb-{width}x{height}.png", _png_header_only(width, height)))
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    samples.append(("animated.gif", buffer.getvalue()))
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    samples.append(("animated.webp", buffer.getvalue()))
    samples.append(("cmyk.jpg", _encode(Image.new("CMYK", (50, 40), (0, 128, 255, 10)), "JPEG")))
    samples.append(("gray16.png", _encode(Image.new("I;16", (50, 40), 40000), "PNG")))
    samples.append(("la.png", _encode(Image.new("LA", (50, 40), (120, 200)), "PNG")))
    samples.append(("rgba.png", _encode(Image.new("RGBA", (50, 40), (1, 2, 3, 100)), "PNG")))
    samples.append(("palette.png", _encode(rgb.convert("P"), "PNG")))
    samples.append(("bilevel.png", _encode(Image.new("1", (50, 40), 1), "PNG")))
    samples.append(("tiny.png", _encode(Image.new("RGB", (1, 1)), "PNG")))
    samples.append(("bmp.bmp", _encode(rgb, "BMP")))
    samples.append(("tiff.tif", _encode(rgb, "TIFF")))
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
        samples.append(("icc-lab.jpg", _encode(rgb, "JPEG", icc_profile=profile)))
    except Exception:  # pragma: no cover - littlecms always ships with Pillow wheels
        pass
    samples.append(("zero.png", b""))
    samples.append(("one-byte.png", b"\x89"))
    samples.append(("magic-only.png", b"\x89PNG\r\n\x1a\n"))
    samples.append(("jpeg-soi-only.jpg", b"\xff\xd8\xff"))
    samples.append(("riff-only.webp", b"RIFF\x00\x00\x00\x00WEBP"))
    samples.append(("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))
    samples.append(("html.jpg", b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"))
    samples.append(("php.gif", b"GIF89a<?php system($_GET['c']); ?>"))
    samples.append(("zip.png", b"PK\x03\x04" + b"\0" * 100))
    samples.append(("pdf.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj"))
    samples.append(("polyglot.jpg", good["jpg"] + b"<script>alert(1)</script>" + good["png"]))
    samples.append(("png-then-html.png", good["png"] + b"<html><script>alert(1)</script></html>"))
    samples.append(("random.png", bytes(range(256)) * 20))
    samples.append(("nulls.webp", b"\0" * 5000))
    samples.append(("text.png", b"hello world\n" * 50))
    samples.append(("json.png", b'{"not": "an image"}'))
    return samples


def test_corpus_is_big_enough():
    assert len(hostile_corpus()) >= 100


def test_hostile_uploads_never_5xx_never_stick(alice_api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    outcomes: dict[int, int] = {}
    for name, data in hostile_corpus():
        response = alice_api.post(
            "/v1/embeds/upload", {"file": SimpleUploadedFile(name, data)}, format="multipart"
        )
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        assert response.status_code in (201, 400, 413), (name, response.status_code, response.content[:300])
        if response.status_code == 201:
            body = response.json()
            for variant in ("original", "full", "preview"):
                served = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format={variant}")
                assert served.status_code == 200, (name, variant)
                image = Image.open(io.BytesIO(served.content))
                image.load()
                assert image.size == (body["files"][variant]["width"], body["files"][variant]["height"])
        else:
            error = response.json()["error"]
            assert error["code"] and error["message"] and error["field"] == "file"
    assert outcomes.get(201, 0) >= 10 and outcomes.get(400, 0) >= 60, outcomes
    assert not Embed.objects.exclude(status=Embed.Status.FINISHED).exists()
    assert not Task.objects.exists()


def test_many_objects_never_share_a_nonce(alice_api):
    """1,000+ stored objects: every nonce distinct (three objects per upload, one key each)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from embeds import crypto, storage

    data = _encode(Image.new("RGB", (8, 8), (9, 9, 9)), "PNG")
    for i in range(340):
        response = alice_api.post(
            "/v1/embeds/upload", {"file": SimpleUploadedFile(f"{i}.png", data)}, format="multipart"
        )
        assert response.status_code == 201
    names = storage.list_objects()
    assert len(names) >= 1000
    nonces = {crypto.nonce_of(storage.get_object(name)) for name in names}
    assert len(nonces) == len(names)
    contents = {bytes(e.encrypted_content)[:20] for e in Embed.objects.all()}
    assert len(contents) == Embed.objects.count()
