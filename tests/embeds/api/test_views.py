"""Uploads, crops and deletes through the REST API, on the full stack."""

from __future__ import annotations

import base64
import io
import uuid

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


# --- versions: GET /v1/embeds/{id}/versions, the lineage fields, deleting versions -------------


def _crop(client, embed_id: str, width: int = 400, height: int = 300) -> dict:
    response = client.post(
        f"/v1/embeds/{embed_id}/crop", {"x": 0, "y": 0, "width": width, "height": height}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_versions_list_the_whole_lineage_oldest_first_from_any_version(alice_api):
    root = _upload(alice_api, _png((800, 600))).json()
    first = _crop(alice_api, root["embed_id"])
    second = _crop(alice_api, first["embed_id"], 200, 150)
    _upload(alice_api, _png((320, 200)))  # another lineage: not listed
    for asked in (root, first, second):
        response = alice_api.get(f"/v1/embeds/{asked['embed_id']}/versions")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["root_id"] == root["embed_id"]
        assert [v["embed_id"] for v in body["versions"]] == [
            root["embed_id"],
            first["embed_id"],
            second["embed_id"],
        ]
    versions = body["versions"]
    assert [(v["version_kind"], v["parent_id"]) for v in versions] == [
        ("uploaded", None),
        ("cropped", root["embed_id"]),
        ("cropped", first["embed_id"]),
    ]
    assert {v["root_id"] for v in versions} == {root["embed_id"]}
    assert {v["status"] for v in versions} == {"finished"}
    assert {v["encryption_mode"] for v in versions} == {"vault"}
    assert set(versions[0]) == {
        "embed_id",
        "parent_id",
        "root_id",
        "version_kind",
        "status",
        "encryption_mode",
        "created_at",
    }
    assert versions[0]["created_at"].endswith("Z")


def test_the_content_and_upload_payloads_carry_the_lineage_fields(alice_api):
    root = _upload(alice_api, _png()).json()
    assert (root["parent_id"], root["root_id"], root["version_kind"], root["version_count"]) == (
        None,
        root["embed_id"],
        "uploaded",
        1,
    )
    crop = _crop(alice_api, root["embed_id"])
    assert (crop["parent_id"], crop["root_id"], crop["version_kind"], crop["version_count"]) == (
        root["embed_id"],
        root["embed_id"],
        "cropped",
        2,
    )
    assert alice_api.get(f"/v1/embeds/{root['embed_id']}/content").json()["version_count"] == 2


def test_versions_of_someone_elses_image_answer_like_a_missing_one(alice_api, bob_api):
    root = _upload(alice_api, _png()).json()
    _crop(alice_api, root["embed_id"])
    foreign = bob_api.get(f"/v1/embeds/{root['embed_id']}/versions")
    missing = bob_api.get(f"/v1/embeds/{uuid.uuid4()}/versions")
    malformed = bob_api.get("/v1/embeds/not-an-id/versions")
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert foreign.json() == missing.json() == malformed.json()
    assert foreign.json()["error"]["code"] == "not_found"
    # Nor can Bob delete Alice's lineage, or read her mask.
    assert bob_api.delete(f"/v1/embeds/{root['embed_id']}?lineage=all").json() == missing.json()
    assert bob_api.get(f"/v1/embeds/{root['embed_id']}/file?format=mask").json() == missing.json()
    assert Embed.objects.filter(owner__username="alice").count() == 2


def test_versions_take_the_same_queries_however_long_the_lineage(alice_api, django_assert_num_queries):
    root = _upload(alice_api, _png()).json()
    alice_api.get(f"/v1/embeds/{root['embed_id']}/versions")  # the API key's first use is cached
    # the owner check and the lineage (the key's user is cached): no decryption, no N+1
    with django_assert_num_queries(2):
        short = alice_api.get(f"/v1/embeds/{root['embed_id']}/versions")
    source = root["embed_id"]
    for _ in range(4):
        source = _crop(alice_api, source, 200, 150)["embed_id"]
    with django_assert_num_queries(2):
        long = alice_api.get(f"/v1/embeds/{root['embed_id']}/versions")
    assert len(short.json()["versions"]) == 1 and len(long.json()["versions"]) == 5


def test_deleting_one_version_keeps_the_others_linked_around_it(alice_api):
    root = _upload(alice_api, _png()).json()["embed_id"]
    middle = _crop(alice_api, root)["embed_id"]
    last = _crop(alice_api, middle, 200, 150)["embed_id"]
    assert alice_api.delete(f"/v1/embeds/{middle}").status_code == 204
    versions = alice_api.get(f"/v1/embeds/{last}/versions").json()["versions"]
    assert [(v["embed_id"], v["parent_id"], v["root_id"]) for v in versions] == [
        (root, None, root),
        (last, root, root),  # its parent is now the deleted one's parent
    ]
    assert alice_api.get(f"/v1/embeds/{last}/content").json()["version_count"] == 2


def test_deleting_the_root_makes_the_oldest_remaining_version_the_root(alice_api):
    root = _upload(alice_api, _png()).json()["embed_id"]
    older = _crop(alice_api, root)["embed_id"]
    newer = _crop(alice_api, root, 300, 200)["embed_id"]
    grandchild = _crop(alice_api, older, 100, 100)["embed_id"]
    assert alice_api.delete(f"/v1/embeds/{root}").status_code == 204
    body = alice_api.get(f"/v1/embeds/{grandchild}/versions").json()
    assert body["root_id"] == older
    assert [(v["embed_id"], v["parent_id"], v["root_id"]) for v in body["versions"]] == [
        (older, None, older),
        (newer, None, older),  # made from the deleted root: no parent left to compare with
        (grandchild, older, older),
    ]


def test_deleting_a_lineage_removes_every_version_and_its_objects_only(alice_api):
    root = _upload(alice_api, _png()).json()["embed_id"]
    crop = _crop(alice_api, root)["embed_id"]
    other = _upload(alice_api, _png((300, 300))).json()["embed_id"]
    doomed = list(Embed.objects.filter(pk__in=[root, crop]))
    names = [
        storage.object_name(e.owner_id, e.id, v) for e in doomed for v in ("original", "full", "preview")
    ]
    response = alice_api.delete(f"/v1/embeds/{crop}?lineage=all")
    assert response.status_code == 204, response.content
    assert list(Embed.objects.values_list("id", flat=True)) == [Embed.objects.get(pk=other).id]
    for name in names:
        with pytest.raises(storage.ObjectMissing):
            storage.get_object(name)
    assert alice_api.get(f"/v1/embeds/{other}/file?format=preview").status_code == 200


def test_a_bad_lineage_choice_is_a_clear_400_and_deletes_nothing(alice_api):
    root = _upload(alice_api, _png()).json()["embed_id"]
    response = alice_api.delete(f"/v1/embeds/{root}?lineage=everything")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_value",
        "message": "lineage must be one or all.",
        "field": "lineage",
    }
    assert Embed.objects.filter(pk=root).exists()


def test_a_lineage_delete_with_storage_down_deletes_no_row(alice_api, s3_server, monkeypatch):
    from embeds.storage import StorageUnavailable

    root = _upload(alice_api, _png()).json()["embed_id"]
    _crop(alice_api, root)

    def refuse(name: str) -> None:
        raise StorageUnavailable(name)

    monkeypatch.setattr(storage, "delete_object", refuse)  # the store itself, not our code
    response = alice_api.delete(f"/v1/embeds/{root}?lineage=all")
    assert response.status_code == 503, response.content
    assert Embed.objects.count() == 2


def test_the_mask_of_a_masked_edit_is_served_to_its_owner(alice_api, worker):
    source = _upload(alice_api, _png((512, 512))).json()
    mask = io.BytesIO()
    marked = Image.new("L", (512, 512), 0)
    marked.paste(255, (100, 100, 300, 260))  # white: the area to change
    marked.save(mask, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(mask.getvalue()).decode()
    task = alice_api.post(
        "/v1/apps/images/edit",
        {"embed_id": source["embed_id"], "prompt": "a red door", "mask": data_url},
        format="json",
    )
    assert task.status_code == 202, task.content
    edit = wait_for_task(alice_api, task.json()["task_id"])
    response = alice_api.get(f"/v1/embeds/{edit['embed_id']}/file?format=mask")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    served = Image.open(io.BytesIO(response.content)).convert("L")
    assert served.size == (512, 512)
    assert served.getpixel((150, 150)) == 255 and served.getpixel((10, 10)) == 0
    versions = alice_api.get(f"/v1/embeds/{edit['embed_id']}/versions").json()["versions"]
    assert [(v["version_kind"], v["parent_id"]) for v in versions] == [
        ("uploaded", None),
        ("edited", source["embed_id"]),
    ]
    # An image that is no masked edit has no mask: a clear 404, not a server error.
    none = alice_api.get(f"/v1/embeds/{source['embed_id']}/file?format=mask")
    assert none.status_code == 404
    assert none.json()["error"]["message"] == "This image has no mask: it is not a masked edit."
