"""Typed embed content (embeds/content.py): the JSON round trip, old rows, wrong types, and the
label inheritance that now lives on the image content."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeds.content import (
    AnalysisContent,
    ContentError,
    CropBox,
    FileMeta,
    ImageContent,
    Label,
    ProviderResult,
    SearchResult,
    SearchResultsContent,
    content_from_json,
)

text = st.text(max_size=20)
maybe_text = st.none() | text
ints = st.integers(min_value=-(2**53), max_value=2**53)
json_scalars = st.none() | st.booleans() | ints | text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
json_objects = st.none() | st.dictionaries(text, json_values, max_size=3)

file_meta = st.builds(FileMeta, width=ints, height=ints, size_bytes=ints, format=text, mime=maybe_text)
files = st.none() | st.dictionaries(st.sampled_from(["original", "full", "preview"]), file_meta)
labels = st.none() | st.builds(
    Label, model_name=maybe_text, model_version=maybe_text, prompt=maybe_text, composite=st.booleans()
)
images = st.builds(
    ImageContent,
    source=st.sampled_from(["generated", "edit", "upload", "crop"]),
    prompt=maybe_text,
    model=maybe_text,
    model_label=maybe_text,
    aspect_ratio=maybe_text,
    image_size=maybe_text,
    seed=st.none() | ints,
    file_name=maybe_text,
    derived_from=maybe_text,
    crop=st.none() | st.builds(CropBox, x=ints, y=ints, width=ints, height=ints),
    generated_at=maybe_text,
    uploaded_at=maybe_text,
    requested_at=maybe_text,
    seed_pinned=st.booleans(),
    composite=st.booleans(),
    provider=st.none()
    | st.builds(ProviderResult, mime=maybe_text, model_version=maybe_text, seed=st.none() | ints),
    ai_label=labels,
    files=files,
    error_detail=maybe_text,
)
search_results = st.builds(
    SearchResultsContent,
    requested_at=maybe_text,
    results=st.none()
    | st.lists(
        st.builds(
            SearchResult,
            title=text,
            link=text,
            source=text,
            source_icon=maybe_text,
            thumbnail=maybe_text,
            image=maybe_text,
            width=st.none() | ints,
            height=st.none() | ints,
            exact=st.booleans(),
        ),
        max_size=3,
    ),
    message=maybe_text,
    engine=maybe_text,
    source_embed_id=maybe_text,
    searched_at=maybe_text,
    error_detail=maybe_text,
)
analyses = st.builds(
    AnalysisContent,
    question=text,
    model=maybe_text,
    model_label=maybe_text,
    requested_at=maybe_text,
    source_embed_id=maybe_text,
    answer=maybe_text,
    region=json_objects,
    region_box=json_objects,
    truncated=st.none() | st.booleans(),
    analyzed_at=maybe_text,
    model_version=maybe_text,
    measurements=json_objects,
    error_detail=maybe_text,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(images, search_results, analyses))
def test_every_content_survives_to_json_and_back(content):
    """What is sealed (JSON text) reads back as the same object."""
    sealed = json.dumps(content.to_json(), separators=(",", ":"), ensure_ascii=False)
    assert content_from_json(json.loads(sealed), content.type) == content


def test_an_old_row_without_newer_fields_reads_with_their_defaults():
    old = {"type": "image", "source": "generated", "prompt": "a cat", "model": "local/procedural"}
    content = ImageContent.from_json(old)
    assert content.seed_pinned is False and content.files is None and content.ai_label is None
    files = {"original": {"width": 4, "height": 3, "size_bytes": 9, "format": "png"}}  # no mime yet
    assert ImageContent.from_json({**old, "files": files}).original.media_type == "image/png"
    assert content.reference_embed_ids is None and "reference_embed_ids" not in content.to_json()


def test_the_references_an_image_was_made_from_are_sealed_in_its_content_not_shown():
    ids = ("6f1c0c8e-0000-4000-8000-000000000001", "6f1c0c8e-0000-4000-8000-000000000002")
    content = ImageContent(source="generated", prompt="a cat", reference_embed_ids=ids, composite=True)
    data = json.loads(json.dumps(content.to_json()))
    assert data["reference_embed_ids"] == list(ids)
    assert ImageContent.from_json(data) == content
    assert "reference_embed_ids" not in content.public_json()
    with pytest.raises(ContentError):
        ImageContent.from_json({**data, "reference_embed_ids": "not a list"})


def test_keys_it_does_not_know_are_ignored():
    newer = {"type": "image_search_results", "later": 1}
    assert SearchResultsContent.from_json(newer) == SearchResultsContent()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "generated", "seed": "12"}, "ImageContent.seed: expected int, got str"),
        ({"source": "generated", "seed": True}, "ImageContent.seed: expected int, got bool"),
        ({"source": "generated", "composite": 1}, "ImageContent.composite: expected bool, got int"),
        ({"source": "upload", "files": {"full": {"width": 1}}}, "ImageContent.files.full.height: missing"),
        ({"source": "crop", "crop": [1, 2, 3, 4]}, "ImageContent.crop: expected CropBox, got list"),
        ({"prompt": "x"}, "ImageContent.source: missing"),
        ({"source": "painted"}, "ImageContent.source: 'painted' is not one of"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(data, message):
    with pytest.raises(ContentError, match=message.replace("(", r"\(")):
        ImageContent.from_json(data)


def test_the_json_must_be_of_the_embeds_type():
    with pytest.raises(ContentError, match="says type 'image'"):
        content_from_json({"type": "image", "source": "upload"}, "image_analysis")


def test_nulls_each_kind_has_always_written_are_kept():
    """GET /v1/embeds/{id}/content shows what the JSON holds: these keys stay, as null."""
    crop = ImageContent(source="crop", crop=CropBox(x=0, y=0, width=1, height=1), derived_from="e")
    assert crop.public_json() == {
        "type": "image",
        "source": "crop",
        "prompt": None,
        "model": None,
        "aspect_ratio": None,
        "file_name": None,
        "derived_from": "e",
        "crop": {"x": 0, "y": 0, "width": 1, "height": 1},
    }
    upload = ImageContent(source="upload", file_name="a.png", uploaded_at="t")
    shown = {"type": "image", "source": "upload", "file_name": "a.png", "uploaded_at": "t"}
    assert upload.public_json() == shown
    assert "files" in upload.to_json() and "ai_label" not in upload.to_json()


def test_a_generated_image_gives_its_own_label_to_what_is_derived_from_it():
    made = ImageContent(
        source="generated", prompt="a fox", model="m", provider=ProviderResult(model_version="v2")
    )
    assert made.ai_made
    assert made.inherited_label() == Label(model_name="m", model_version="v2", prompt="a fox")
    assert made.inherited_label(composite=True).composite is True
    given_label = Label(model_name="provider-model", prompt=None)
    assert ImageContent(source="edit", ai_label=given_label).inherited_label() == given_label


def test_a_crop_of_an_ai_image_stays_ai_made_and_a_plain_upload_is_not():
    label = Label(model_name="m")
    assert ImageContent(source="crop", ai_label=label).ai_made
    assert ImageContent(source="crop", ai_label=label).inherited_label() == label
    assert not ImageContent(source="upload").ai_made
    assert ImageContent(source="upload").inherited_label() is None
