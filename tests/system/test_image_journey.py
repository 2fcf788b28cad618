"""Issue 15's "done when", as one user does it over REST: four variants, one regenerated twice,
that one edited with a mask and a reference, each version comparable with its parent (the mask
file for the masked edit), and all of it found again in the gallery, newest first."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.conftest import wait_for_task


def _finished(client, response) -> dict:
    assert response.status_code == 202, response.content
    done = wait_for_task(client, response.json()["task_id"])
    assert done["status"] == "completed", done
    return done


def test_variants_versions_a_masked_edit_with_a_reference_and_the_gallery(alice_api, bob_api, worker):
    made = alice_api.post(
        "/v1/apps/images/generate", {"prompt": "a lighthouse", "n": 4, "seed": 40}, format="json"
    )
    assert made.status_code == 202, made.content
    variants = made.json()["variants"]
    assert [v["seed"] for v in variants] == [40, 41, 42, 43]
    for variant in variants:
        assert wait_for_task(alice_api, variant["task_id"])["status"] == "completed"
    chosen = variants[1]["embed_id"]

    again = chosen
    for _ in range(2):
        report = {"reason": "wrong_content", "regenerate": True}
        again = _finished(alice_api, alice_api.post(f"/v1/embeds/{again}/report", report, format="json"))[
            "embed_id"
        ]

    files = alice_api.get(f"/v1/embeds/{again}/content").json()["files"]["original"]
    buffer = io.BytesIO()
    Image.new("L", (files["width"], files["height"]), 255).save(buffer, "PNG")
    edit = {
        "embed_id": again,
        "prompt": "paint the lighthouse red",
        "mask": base64.b64encode(buffer.getvalue()).decode(),
        "reference_embed_ids": [variants[0]["embed_id"]],
    }
    edited = _finished(alice_api, alice_api.post("/v1/apps/images/edit", edit, format="json"))["embed_id"]

    lineage = alice_api.get(f"/v1/embeds/{edited}/versions").json()
    kinds = [(v["version_kind"], v["parent_id"]) for v in lineage["versions"]]
    regenerated = [v["embed_id"] for v in lineage["versions"] if v["version_kind"] == "regenerated"]
    assert lineage["root_id"] == chosen
    assert kinds == [
        ("generated", None),
        ("regenerated", chosen),
        ("regenerated", regenerated[0]),
        ("edited", regenerated[1]),
    ]
    for version in lineage["versions"][1:]:  # each can be set beside the one it came from
        parent = alice_api.get(f"/v1/embeds/{version['parent_id']}/file?format=full")
        assert parent.status_code == 200 and parent["Content-Type"] == "image/webp"
    mask = alice_api.get(f"/v1/embeds/{edited}/file?format=mask")
    assert mask.status_code == 200 and Image.open(io.BytesIO(mask.content)).size == (
        files["width"],
        files["height"],
    )
    content = alice_api.get(f"/v1/embeds/{edited}/content").json()
    assert content["version_count"] == 4 and content["parent_id"] == again
    renditions = alice_api.get(f"/v1/embeds/{edited}/provenance").json()["renditions"]
    for rendition in renditions.values():  # the reference is named as an ingredient of each
        assert "Reference image 1" in [i["title"] for i in rendition["ingredients"]], rendition

    gallery = alice_api.get("/v1/embeds?type=image&limit=50").json()
    listed = [item["embed_id"] for item in gallery["items"]]
    everything = [v["embed_id"] for v in variants] + regenerated + [edited]
    assert set(listed) == set(everything) and listed[0] == edited
    edits = alice_api.get("/v1/embeds?type=image&kind=edited").json()["items"]
    assert [item["embed_id"] for item in edits] == [edited]
    # None of it is anyone else's to see.
    assert bob_api.get(f"/v1/embeds/{edited}/versions").status_code == 404
    assert bob_api.get("/v1/embeds?type=image").json()["items"] == []
