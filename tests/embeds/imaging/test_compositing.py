"""Masked edits are exact: outside the mask and its narrow edge, every pixel is the source's."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageChops, ImageDraw

from embeds.imaging.compositing import EDGE, composite_through_mask, feathered, read_mask
from embeds.imaging.errors import InvalidImage


def noise(size: tuple[int, int], *, mode: str = "RGB", seed: int = 7) -> Image.Image:
    """Random pixels: any resampling or re-encoding of the source would show."""
    rng = random.Random(seed)
    channels = len(mode)
    return Image.frombytes(mode, size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * channels)))


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def box_mask(size, box, *, mode="L") -> bytes:
    mask = Image.new(mode, size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255 if mode == "L" else (255, 255, 255, 255))
    return encode(mask)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def check_exact(source: Image.Image, result: Image.Image, box: tuple[int, int, int, int], answer_color):
    """Outside the box grown by EDGE: identical to the source; inside the box: the answer."""
    assert result.size == source.size and result.mode == source.mode
    left, top, right, bottom = box
    kept = Image.new("L", source.size, 255)
    ImageDraw.Draw(kept).rectangle((left - EDGE, top - EDGE, right + EDGE, bottom + EDGE), fill=0)
    difference = ImageChops.difference(result.convert("RGBA"), source.convert("RGBA"))
    outside = Image.composite(difference, Image.new("RGBA", source.size), kept)
    assert outside.getbbox() is None  # not one byte differs away from the mask
    inside = result.convert("RGB").crop((left, top, right + 1, bottom + 1))
    assert inside.getcolors() == [(inside.width * inside.height, answer_color)]
    # the edge is narrow but real: just outside the mask the two are blended
    assert result.convert("RGB").getpixel((right + 1, (top + bottom) // 2)) != answer_color


@pytest.mark.parametrize("answer_size", [(84, 48), (640, 360), (300, 300), (200, 180)])
def test_outside_the_mask_every_pixel_is_the_sources_whatever_size_the_answer(answer_size):
    source = noise((200, 120))
    box = (40, 20, 119, 69)
    answer = encode(Image.new("RGB", answer_size, (30, 120, 220)))
    result = decoded(composite_through_mask(encode(source), answer, box_mask(source.size, box)))
    check_exact(source, result, box, (30, 120, 220))


def test_a_jpeg_source_keeps_its_decoded_pixels_and_the_result_is_lossless():
    source_jpeg = encode(noise((160, 96)), "JPEG", quality=80)
    source = decoded(source_jpeg).convert("RGB")
    box = (10, 10, 59, 49)
    result_png = composite_through_mask(
        source_jpeg, encode(Image.new("RGB", (80, 48), (200, 10, 10))), box_mask(source.size, box)
    )
    assert result_png.startswith(b"\x89PNG")
    check_exact(source, decoded(result_png), box, (200, 10, 10))


def test_transparency_of_the_source_is_kept():
    source = noise((120, 80), mode="RGBA")
    box = (30, 20, 69, 49)
    result = decoded(
        composite_through_mask(
            encode(source), encode(Image.new("RGB", (60, 40), (9, 9, 9))), box_mask(source.size, box)
        )
    )
    assert result.mode == "RGBA"
    assert result.getchannel("A").tobytes() == source.getchannel("A").tobytes()
    kept = result.crop((0, 0, 120, 20 - EDGE))
    assert kept.tobytes() == source.crop((0, 0, 120, 20 - EDGE)).tobytes()


def test_a_mask_with_transparency_means_opaque_is_change_and_a_small_mask_is_scaled():
    size = (100, 60)
    mask = Image.new("RGBA", (50, 30), (0, 0, 0, 0))
    ImageDraw.Draw(mask).rectangle((0, 0, 24, 29), fill=(0, 0, 0, 255))  # the left half, opaque black
    area = read_mask(encode(mask), size)
    assert area.size == size and area.getbbox() == (0, 0, 50, 60)


def test_the_feathered_weights_reach_exactly_edge_pixels():
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((20, 20, 39, 39), fill=255)
    weights = feathered(mask)
    assert weights.getbbox() == (20 - EDGE, 20 - EDGE, 40 + EDGE, 40 + EDGE)
    assert weights.crop((20, 20, 40, 40)).getextrema() == (255, 255)


def test_an_unreadable_mask_is_an_invalid_image():
    with pytest.raises(InvalidImage):
        composite_through_mask(encode(noise((10, 10))), encode(noise((10, 10))), b"not a png")
