"""The region geometry and the offline inspector's figures, on real pixels (no database)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from generation.analysis.offline import colour_name, measure, tone
from generation.analysis.region import (
    MAX_SIDE,
    RegionError,
    bounding_box,
    describe_shapes,
    parse_region,
    prepare_images,
)

SIZE = (1000, 800)


def _png(size=SIZE, colour=(10, 10, 10), patch=None) -> bytes:
    image = Image.new("RGB", size, colour)
    if patch:
        box, fill = patch
        image.paste(Image.new("RGB", (box[2] - box[0], box[3] - box[1]), fill), box[:2])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_shapes_are_normalised_to_whole_pixels():
    region = parse_region(
        {
            "shapes": [
                {"type": "rectangle", "x": 10.4, "y": 20.6, "width": 30, "height": 40},
                {"type": "arrow", "x1": 0, "y1": 0, "x2": 1000, "y2": 800},
                {"type": "freehand", "points": [[1, 2], [3.7, 4]]},
            ]
        },
        SIZE,
    )
    assert region["shapes"][0] == {"type": "rectangle", "x": 10, "y": 21, "width": 30, "height": 40}
    assert region["shapes"][2]["points"] == [[1, 2], [4, 4]]
    assert parse_region(None, SIZE) is None


@pytest.mark.parametrize(
    ("region", "field"),
    [
        ({"shapes": [{"type": "ellipse", "x": 990, "y": 0, "width": 20, "height": 5}]}, "region.shapes[0]"),
        ({"shapes": [{"type": "rectangle", "x": -1, "y": 0, "width": 5, "height": 5}]}, "region.shapes[0]"),
        ({"shapes": [{"type": "rectangle", "x": 0, "y": 0, "width": 0, "height": 5}]}, "region.shapes[0]"),
        (
            {"shapes": [{"type": "rectangle", "x": True, "y": 0, "width": 5, "height": 5}]},
            "region.shapes[0].x",
        ),
        ({"shapes": [{"type": "freehand", "points": [[1, 2]]}]}, "region.shapes[0].points"),
        ({"shapes": [{"type": "freehand", "points": [[1, 2], [5000, 2]]}]}, "region.shapes[0]"),
        ({"shapes": [{"type": "arrow", "x1": 0, "y1": 0, "x2": 1, "y2": 1, "z": 3}]}, "region.shapes[0].z"),
        ({"shapes": [{}] * 21}, "region.shapes"),
        ({"shape": []}, "region.shape"),
    ],
)
def test_bad_shapes_name_the_field_at_fault(region, field):
    with pytest.raises(RegionError) as raised:
        parse_region(region, SIZE)
    assert raised.value.field == field
    assert raised.value.message


def test_an_arrow_marks_what_it_points_at_not_its_shaft():
    region = parse_region({"shapes": [{"type": "arrow", "x1": 0, "y1": 0, "x2": 600, "y2": 500}]}, SIZE)
    box = bounding_box(region, SIZE, pad=0)
    assert box.left > 300 and box.top > 250  # around the tip, far from the tail at the corner
    assert box.left < 600 < box.right and box.top < 500 < box.bottom


def test_a_small_region_gets_a_full_resolution_close_up_and_a_large_one_does_not():
    original = _png(size=(4000, 3000), patch=((3000, 2000, 3100, 2100), (255, 255, 255)))
    small = parse_region(
        {"shapes": [{"type": "rectangle", "x": 3000, "y": 2000, "width": 100, "height": 100}]}, (4000, 3000)
    )
    prepared = prepare_images(original, small)
    whole = Image.open(io.BytesIO(prepared.image))
    crop = Image.open(io.BytesIO(prepared.crop))
    assert max(whole.size) == MAX_SIDE  # the whole picture is scaled down…
    assert crop.size == (120, 120)  # …the close-up keeps every original pixel (10% padding)
    assert crop.getpixel((60, 60)) == (255, 255, 255)
    # The outline is drawn on the scaled whole, where the rectangle's left edge now is.
    assert whole.getpixel((round(3000 * MAX_SIDE / 4000), round(2050 * MAX_SIDE / 4000)))[0] > 200
    assert whole.info == {} and crop.info == {}  # pixels only
    large = parse_region(
        {"shapes": [{"type": "ellipse", "x": 0, "y": 0, "width": 3000, "height": 2500}]}, (4000, 3000)
    )
    assert prepare_images(original, large).crop is None
    assert prepare_images(original, None).box is None


def test_the_drawing_is_described_without_any_text_of_the_user():
    region = parse_region(
        {
            "shapes": [
                {"type": "ellipse", "x": 800, "y": 50, "width": 100, "height": 100},
                {"type": "freehand", "points": [[100, 600], [200, 600], [200, 700], [100, 700], [105, 605]]},
                {"type": "arrow", "x1": 500, "y1": 400, "x2": 100, "y2": 100},
            ]
        },
        SIZE,
    )
    lines = describe_shapes(region, SIZE)
    assert lines[0] == "An ellipse of 100×100 px at x=800, y=50 (1.2% of the image) around the top right."
    assert lines[1].startswith("A closed freehand loop spanning 100×100 px") and "bottom left" in lines[1]
    assert lines[2] == "An arrow from the centre pointing at x=100, y=100 in the top left."


def test_the_inspector_compares_the_region_with_the_whole():
    original = _png(patch=((100, 100, 300, 300), (250, 250, 250)))
    region = parse_region(
        {"shapes": [{"type": "rectangle", "x": 100, "y": 100, "width": 200, "height": 200}]}, SIZE
    )
    figures = measure(original, region)
    assert figures["width"] == 1000 and figures["palette"][0]["name"] == "black"
    assert figures["region"]["palette"][0]["name"] == "white"
    assert figures["region"]["tone"]["brightness"] > 90 > figures["tone"]["brightness"]
    assert colour_name((35, 95, 215)) == "blue"
    assert tone(Image.new("L", (10, 10), 0)) == {"brightness": 0.0, "contrast": 0.0}
