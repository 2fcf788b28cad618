"""Uploads, crops and deletes through the REST API, on the full stack."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from embeds import storage
from embeds.models import Embed
from tests.conftest import wait_for_stored, wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)


def _png(size=(800, 600), color=(200, 30, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg_with_gps_rotated() -> bytes:
    import piexif

    image = Image.new("RGB", (300, 200), (10, 120, 250))
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.Artist: b"Jane Doe"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((52, 1), (31, 1), (0, 1)),
            },
        }
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def _upload(client, data: bytes, name: str = "photo.png"):
    return client.post("/v1/embeds/upload", {"file": _named(data, name)}, format="multipart")


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_upload_becomes_a_finished_encrypted_embed(alice_api):
    response = _upload(alice_api, _png())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "finished"
    assert body["source"] == "upload"
    assert body["file_name"] == "photo.png"
    assert body["files"]["original"]["width"] == 800
    assert body["files"]["preview"]["width"] <= 600 and body["files"]["preview"]["height"] <= 400
    preview = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format=preview")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/webp"


def test_upload_strips_gps_and_applies_orientation(alice_api):
    body = _upload(alice_api, _jpeg_with_gps_rotated(), "holiday.jpg").json()
    original = alice_api.get(f"/v1/embeds/{body['embed_id']}/file?format=original").content
    image = Image.open(io.BytesIO(original))
    assert image.size == (200, 300)  # orientation 6 applied: rotated
    assert b"Jane Doe" not in original
    assert not image.getexif().get_ifd(0x8825)
    assert 0x8825 not in image.getexif()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"just some text, not an image", "not_an_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "not_an_image"),
        (None, "truncated"),
    ],
)
def test_bad_uploads_are_400(alice_api, data, code):
    if data is None:
        data = _png()[:300]
    response = _upload(alice_api, data, "x.png")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == "file"
    assert not Embed.objects.exists()


def test_empty_and_missing_file(alice_api):
    assert _upload(alice_api, b"", "x.png").json()["error"]["code"] == "empty_file"
    response = alice_api.post("/v1/embeds/upload", {}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "missing_field"


def test_oversized_upload_is_413(alice_api, settings):
    settings.EMBEDS = {**settings.EMBEDS, "UPLOAD_MAX_BYTES": 1000}
    response = _upload(alice_api, _png((400, 400)) + b"\0" * 200_000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_crop_makes_a_new_embed_and_keeps_the_original(alice_api):
    source = _upload(alice_api, _png((800, 600))).json()
    response = alice_api.post(
        f"/v1/embeds/{source['embed_id']}/crop",
        {"x": 100, "y": 50, "width": 400, "height": 300},
        format="json",
    )
    assert response.status_code == 201, response.content
    crop = response.json()
    assert crop["embed_id"] != source["embed_id"]
    assert crop["derived_from"] == source["embed_id"]
    assert (crop["files"]["original"]["width"], crop["files"]["original"]["height"]) == (400, 300)
    untouched = alice_api.get(f"/v1/embeds/{source['embed_id']}/content").json()
    assert untouched["files"]["original"]["width"] == 800


def test_crop_of_generated_image_stays_labelled(alice_api, worker):
    task = alice_api.post("/v1/apps/images/generate", {"prompt": "lighthouse"}, format="json").json()
    done = wait_for_task(alice_api, task["task_id"])
    crop = alice_api.post(
        f"/v1/embeds/{done['embed_id']}/crop", {"x": 0, "y": 0, "width": 256, "height": 128}, format="json"
    ).json()
    original = alice_api.get(f"/v1/embeds/{crop['embed_id']}/file?format=original").content
    assert b"trainedAlgorithmicMedia" in original
    assert crop["prompt"] == "lighthouse"
    source_report = alice_api.get(f"/v1/embeds/{done['embed_id']}/provenance").json()["renditions"]
    crop_report = alice_api.get(f"/v1/embeds/{crop['embed_id']}/provenance").json()["renditions"]
    for variant, report in crop_report.items():
        assert report["state"] == "Trusted"
        # the same AI system as the image it was cut from, and the crop recorded after creation
        assert report["ai_system"] == source_report[variant]["ai_system"] == "procedural-1"
        assert [a["action"] for a in report["actions"]] == ["c2pa.created", "c2pa.cropped"]
    assert [a["action"] for a in source_report["full"]["actions"]] == ["c2pa.created"]


def test_a_drawing_over_an_ai_image_stays_labelled_as_ai_made(alice_api, bob_api, worker, tmp_path):
    """The web UI's "Ask about this" uploads the annotated picture with ``derived_from``: it must not
    launder an AI image into an unlabelled upload."""
    from tests.embeds.imaging.test_renditions import exiftool

    task = alice_api.post("/v1/apps/images/generate", {"prompt": "lighthouse"}, format="json").json()
    done = wait_for_task(alice_api, task["task_id"])
    drawing = _png(size=(640, 480), color=(10, 120, 200))
    body = {"file": _named(drawing, "annotated.png"), "derived_from": done["embed_id"]}
    response = alice_api.post("/v1/embeds/upload", body, format="multipart")
    assert response.status_code == 201, response.content
    annotated = response.json()
    assert annotated["ai_made"] is True and annotated["source"] == "upload"
    assert annotated["derived_from"] == done["embed_id"] and annotated["prompt"] == "lighthouse"
    for variant in ("original", "full", "preview"):
        data = alice_api.get(f"/v1/embeds/{annotated['embed_id']}/file?format={variant}").content
        tags = exiftool(data, tmp_path)
        assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia"), (
            variant
        )
    report = alice_api.get(f"/v1/embeds/{annotated['embed_id']}/provenance").json()["renditions"]
    for variant, one in report.items():
        assert one["state"] == "Trusted", variant
        assert [a["action"] for a in one["actions"]] == ["c2pa.created", "c2pa.edited"]
    # A drawing over a plain photo stays a plain upload; someone else's image cannot be named.
    photo = _upload(alice_api, _png()).json()
    plain = alice_api.post(
        "/v1/embeds/upload",
        {"file": _named(drawing, "a.png"), "derived_from": photo["embed_id"]},
        format="multipart",
    ).json()
    assert plain["ai_made"] is False and plain["derived_from"] == photo["embed_id"]
    assert (
        b"AlgorithmicMedia"
        not in alice_api.get(f"/v1/embeds/{plain['embed_id']}/file?format=original").content
    )
    foreign = bob_api.post(
        "/v1/embeds/upload",
        {"file": _named(drawing, "b.png"), "derived_from": done["embed_id"]},
        format="multipart",
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["field"] == "derived_from"
    assert alice_api.get(f"/v1/embeds/{done['embed_id']}/content").json()["ai_made"] is True
    assert photo["ai_made"] is False


@pytest.mark.parametrize(
    ("rect", "field"),
    [
        ({"x": 0, "y": 0, "width": 900, "height": 10}, "width"),
        ({"x": 0, "y": 590, "width": 10, "height": 20}, "height"),
        ({"x": -1, "y": 0, "width": 10, "height": 10}, "x"),
        ({"x": 0, "y": 0, "width": 0, "height": 10}, "width"),
        ({"x": 0, "y": 0, "width": 10}, "height"),
    ],
)
def test_bad_crop_rectangles(alice_api, rect, field):
    source = _upload(alice_api, _png((800, 600))).json()
    response = alice_api.post(f"/v1/embeds/{source['embed_id']}/crop", rect, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert Embed.objects.count() == 1


def test_delete_removes_objects_and_row(alice_api):
    body = _upload(alice_api, _png()).json()
    embed = Embed.objects.get(pk=body["embed_id"])
    names = [storage.object_name(embed.owner_id, embed.id, v) for v in ("original", "full", "preview")]
    assert all(storage.get_object(n) for n in names)
    response = alice_api.delete(f"/v1/embeds/{body['embed_id']}")
    assert response.status_code == 204
    assert not Embed.objects.filter(pk=body["embed_id"]).exists()
    for name in names:
        with pytest.raises(storage.ObjectMissing):
            storage.get_object(name)
    assert alice_api.get(f"/v1/embeds/{body['embed_id']}/content").status_code == 404


@pytest.mark.parametrize("stage", ["provider", "storing"])
def test_deleting_an_embed_while_it_is_made_leaves_nothing(alice_api, worker, s3_server, caplog, stage):
    import time

    caplog.set_level("INFO", logger="generation.pipeline.runner")
    prompt = "doomed [[sleep:8]]" if stage == "provider" else "doomed"
    task = alice_api.post("/v1/apps/images/generate", {"prompt": prompt}, format="json").json()
    # each stage is brief to observe: the provider stage reports "provider", then "generating";
    # after it, "encoding" and "storing" are both past the point where the answer is kept
    stages = {"provider": ("provider", "generating"), "storing": ("encoding", "storing")}[stage]
    deadline = time.monotonic() + 10
    while (state := alice_api.get(f"/v1/tasks/{task['task_id']}").json())["stage"] not in stages:
        assert time.monotonic() < deadline and state["status"] != "completed", state
        time.sleep(0.01)
    deleted_at = time.monotonic()
    assert alice_api.delete(f"/v1/embeds/{task['embed_id']}").status_code == 204
    assert alice_api.get(f"/v1/tasks/{task['task_id']}").status_code == 404
    # The worker either sees the cancel flag when it finishes, or finds its row gone.
    ended = (
        f"generation.task.abandoned task={task['task_id']}",
        f"generation.task.cancelled task={task['task_id']}",
    )
    while not any(line in caplog.text for line in ended):
        # at the provider, the worker stops long before the provider's 8 s are up
        assert time.monotonic() - deleted_at < 5, caplog.text[-2000:]
        time.sleep(0.05)
    assert "generation.task.crashed" not in caplog.text
    wait_for_stored(s3_server, 0)
