"""The gallery's list (embeds/gallery.py, served as GET /v1/embeds): newest first, keyset pages
that stay put under inserts, the kind, chat and model filters, isolation, the storage total, and
a fixed number of queries however many images a page holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.actions import do_create_chat, do_post_message
from embeds.actions import do_crop_embed
from embeds.gallery import MODEL_SCAN_MAX, Position, gallery_page
from embeds.models import Embed
from tests.factories import GenerationTaskFactory, UploadedImageFactory, png_bytes

pytestmark = pytest.mark.django_db

SMALL = (48, 32)


def _uploads(owner, count: int) -> list[Embed]:
    return [
        UploadedImageFactory(owner=owner, data=png_bytes(SMALL, (i * 7 % 255, 40, 90)), file_name=f"p{i}.png")
        for i in range(count)
    ]


def _ids(body: dict) -> list[str]:
    return [item["embed_id"] for item in body["items"]]


def _all_pages(client, query: str = "", limit: int = 3) -> list[str]:
    seen, cursor = [], None
    while True:
        url = f"/v1/embeds?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).json()
        seen += _ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_lists_your_images_newest_first_with_what_the_grid_needs(alice, alice_api):
    first, second = _uploads(alice, 2)
    response = alice_api.get("/v1/embeds?type=image")
    assert response.status_code == 200, response.content
    body = response.json()
    assert _ids(body) == [str(second.id), str(first.id)]
    item = body["items"][0]
    assert item == {
        "embed_id": str(second.id),
        "type": "image",
        "kind": "uploaded",
        "version_kind": "uploaded",
        "status": "finished",
        "created_at": second.created_at.isoformat().replace("+00:00", "Z"),
        "encryption_mode": "vault",
        "stored_bytes": second.stored_bytes,
        "preview_url": f"/v1/embeds/{second.id}/file?format=preview",
        "model": None,
        "model_label": None,
        "prompt": None,
        "file_name": "p1.png",
        "width": 48,
        "height": 32,
    }
    assert alice_api.get(item["preview_url"]).status_code == 200
    assert body["next_cursor"] is None
    assert body["total_bytes"] == first.stored_bytes + second.stored_bytes > 0
    assert body["total_images"] == 2


def test_pages_follow_the_cursor_and_stay_put_when_images_are_added(alice, alice_api):
    made = _uploads(alice, 7)
    newest_first = [str(e.id) for e in reversed(made)]
    page1 = alice_api.get("/v1/embeds?limit=3").json()
    assert _ids(page1) == newest_first[:3]
    added = _uploads(alice, 2)  # made while the user scrolls
    page2 = alice_api.get(f"/v1/embeds?limit=3&cursor={page1['next_cursor']}").json()
    assert _ids(page2) == newest_first[3:6]  # not shifted by the two new images
    page3 = alice_api.get(f"/v1/embeds?limit=3&cursor={page2['next_cursor']}").json()
    assert _ids(page3) == newest_first[6:] and page3["next_cursor"] is None
    again = alice_api.get("/v1/embeds?limit=3").json()
    assert _ids(again)[:2] == [str(added[1].id), str(added[0].id)]  # the new ones come first
    assert sorted(_all_pages(alice_api)) == sorted(newest_first + [str(e.id) for e in added])


def test_rows_made_in_the_same_instant_are_ordered_by_id_and_none_is_lost(alice, alice_api):
    made = _uploads(alice, 5)
    Embed.objects.filter(pk__in=[e.pk for e in made]).update(created_at=made[0].created_at)
    listed = _all_pages(alice_api, limit=2)
    assert listed == sorted((str(e.id) for e in made), reverse=True)


def test_kind_filter_groups_the_lineage_steps(alice, alice_api):
    upload = UploadedImageFactory(owner=alice, data=png_bytes(SMALL))
    crop = do_crop_embed(alice, upload, (0, 0, 10, 10))
    drawn = UploadedImageFactory(owner=alice, data=png_bytes(SMALL), derived_from=upload)
    task = GenerationTaskFactory(owner=alice, prompt="a lighthouse")  # still processing
    assert (crop.version_kind, drawn.version_kind) == ("cropped", "drawn")
    assert _ids(alice_api.get("/v1/embeds?kind=uploaded").json()) == [str(upload.id)]
    assert _ids(alice_api.get("/v1/embeds?kind=edited").json()) == [str(drawn.id), str(crop.id)]
    generated = alice_api.get("/v1/embeds?kind=generated").json()
    assert _ids(generated) == [str(task.embed_id)]
    assert generated["items"][0]["status"] == "processing"
    assert generated["items"][0]["prompt"] == "a lighthouse"
    Embed.objects.filter(pk=task.embed_id).update(version_kind=Embed.VersionKind.REGENERATED)
    assert _ids(alice_api.get("/v1/embeds?kind=generated").json()) == [str(task.embed_id)]


def test_failed_images_are_not_listed(alice, alice_api):
    kept, failed = _uploads(alice, 2)
    Embed.objects.filter(pk=failed.pk).update(status=Embed.Status.ERROR)
    assert _ids(alice_api.get("/v1/embeds").json()) == [str(kept.id)]


def test_model_filter_reads_the_sealed_model_and_says_it(alice, alice_api):
    _uploads(alice, 2)
    task = GenerationTaskFactory(owner=alice, prompt="a red boat on a lake")
    model = Embed.objects.get(pk=task.embed_id)
    body = alice_api.get("/v1/embeds?model=local/procedural").json()
    assert _ids(body) == [str(model.id)]
    assert body["items"][0]["model"] == "local/procedural"
    assert body["items"][0]["prompt"] == "a red boat on a lake"
    assert body["items"][0]["model_label"]
    assert _ids(alice_api.get("/v1/embeds?model=google/gemini-3-pro-image").json()) == []
    assert not {f.column for f in Embed._meta.concrete_fields} & {"model", "model_id", "prompt"}


def test_model_filter_pages_through_non_matching_rows(alice, alice_api):
    tasks = [GenerationTaskFactory(owner=alice) for _ in range(3)]
    _uploads(alice, 5)  # newer than every generated image: the first batches match nothing
    listed = _all_pages(alice_api, "&model=local/procedural", limit=2)
    assert listed == [str(t.embed_id) for t in reversed(tasks)]


def test_model_filter_examines_a_bounded_number_of_rows_per_page(alice, monkeypatch):
    import embeds.gallery as gallery

    monkeypatch.setattr(gallery, "MODEL_SCAN_MAX", 4)  # a bound of 4 rows instead of 500
    GenerationTaskFactory(owner=alice)
    _uploads(alice, 6)
    first = gallery_page(alice, model="local/procedural", limit=2)
    assert first.items == [] and first.next_cursor is not None  # four rows examined, none matched
    second = gallery_page(alice, model="local/procedural", limit=2, cursor=first.next_cursor)
    assert len(second.items) == 1 and second.next_cursor is None
    assert MODEL_SCAN_MAX == 500


def test_chat_filter_lists_the_chats_images(alice, alice_api):
    inside, outside = _uploads(alice, 2)
    chat = do_create_chat(alice)
    do_post_message(chat, text="look", embed_ids=[str(inside.id)])
    do_post_message(chat, text="again", embed_ids=[str(inside.id)])  # listed once
    assert _ids(alice_api.get(f"/v1/embeds?chat_id={chat.id}").json()) == [str(inside.id)]
    assert str(outside.id) in _ids(alice_api.get("/v1/embeds").json())


def test_someone_elses_images_and_chats_are_not_there(alice, bob, alice_api, bob_api):
    mine = _uploads(alice, 1)[0]
    _uploads(bob, 2)
    bobs_chat = do_create_chat(bob)
    assert _ids(alice_api.get("/v1/embeds").json()) == [str(mine.id)]
    assert alice_api.get("/v1/embeds").json()["total_bytes"] == mine.stored_bytes
    foreign = alice_api.get(f"/v1/embeds?chat_id={bobs_chat.id}")
    missing = alice_api.get("/v1/embeds?chat_id=00000000-0000-4000-8000-000000000000")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    # A cursor made from alice's newest image, used by bob, lists only bob's older images.
    later = Position(mine.created_at.replace(year=mine.created_at.year + 1), mine.id).encode()
    replayed = bob_api.get(f"/v1/embeds?cursor={later}").json()
    assert len(replayed["items"]) == 2 and str(mine.id) not in _ids(replayed)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=chat", "type"),
        ("kind=painted", "kind"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=many", "limit"),
        ("chat_id=nope", "chat_id"),
        ("cursor=not-a-cursor", "cursor"),
        # well-formed base64url, but a time without a zone: not one of ours
        ("cursor=MjAyNi0wMS0wMVQwMDowMDowMHwwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDA", "cursor"),
        ("colour=red", "colour"),
    ],
)
def test_bad_queries_are_clear_400s(alice_api, query, field):
    response = alice_api.get(f"/v1/embeds?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field


def test_needs_authentication(client):
    assert client.get("/v1/embeds").status_code in (401, 403)


def test_a_page_takes_two_queries_however_many_images(alice, django_assert_num_queries):
    _uploads(alice, 12)
    with django_assert_num_queries(2):  # the totals and the page
        page = gallery_page(alice, limit=10)
    assert len(page.items) == 10
    with django_assert_num_queries(2):
        assert gallery_page(alice, kind="uploaded", limit=3).items


def test_the_request_costs_the_same_queries_for_3_or_30_images(alice, alice_api):
    _uploads(alice, 3)
    alice_api.get("/v1/embeds")  # the API key's lookup is cached after the first request
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get("/v1/embeds").json()["items"]) == 3
    _uploads(alice, 27)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get("/v1/embeds").json()["items"]) == 30
    assert len(many) == len(few) == 2


def test_a_model_filtered_page_takes_one_query_per_batch_it_examines(alice, django_assert_num_queries):
    for _ in range(3):
        GenerationTaskFactory(owner=alice)
    _uploads(alice, 6)  # newest: the first batch of four (2 × limit) matches nothing
    with django_assert_num_queries(3):  # the totals, then two batches of rows
        page = gallery_page(alice, model="local/procedural", limit=2)
    assert len(page.items) == 2 and page.next_cursor is not None
