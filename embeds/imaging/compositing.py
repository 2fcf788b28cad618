"""Exact masked edits: the provider's answer, composited onto the source through the mask.

No provider we use honours a mask (Gemini's ``generateContent`` and fal's klein edit endpoint
have no mask input; at best it is a hint), and their answers come back at their own size. A user
who marks the sky expects the rest of the picture to stay exactly as it was, so the pipeline
brings the answer to the source's size (scaled to cover it, centred, the overflow cropped: no
distortion) and pastes it through the mask, with a narrow feathered edge so the seam does not
show. Every pixel farther than ``EDGE`` pixels (horizontally or vertically) from the mask is
the source's own pixel, byte for byte.

The mask is read as everywhere else: white (or opaque, when it has transparency) = change.
"""

from __future__ import annotations

import io

from PIL import Image, ImageFilter, ImageOps

from .decode import open_untrusted
from .errors import InvalidImage

FEATHER = 2  # px the mask is grown by, and then blurred over
EDGE = 2 * FEATHER  # the farthest a changed pixel can lie outside the mask


def read_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The area to change as an "L" image of ``size``: 255 = change, 0 = keep."""
    try:
        mask = Image.open(io.BytesIO(data))
        mask.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidImage("not_an_image", "The mask could not be read as an image.") from exc
    has_alpha = mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info
    if has_alpha:
        alpha = mask.convert("RGBA").getchannel("A")
        # Transparency carries the mask when there is any: opaque = change.
        mask = alpha if alpha.getextrema()[0] < 255 else mask.convert("RGB").convert("L")
    else:
        mask = mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    return mask.point(lambda value: 255 if value >= 128 else 0)


def feathered(mask: Image.Image) -> Image.Image:
    """The blend weights: 255 over the whole mask, fading to 0 within ``EDGE`` px outside it,
    exactly 0 beyond. (Grow by FEATHER, then a box blur of radius FEATHER: a box blur, unlike a
    Gaussian, has a hard reach.)"""
    grown = mask.filter(ImageFilter.MaxFilter(2 * FEATHER + 1))
    return grown.filter(ImageFilter.BoxBlur(FEATHER))


def composite_through_mask(source: bytes, answer: bytes, mask: bytes) -> bytes:
    """A lossless PNG of ``source`` with ``answer`` inside ``mask`` (and its feathered edge).

    ``source`` and ``answer`` are any accepted image files; ``mask`` a PNG, scaled to the source
    if its size differs. Transparency of the source is kept as it was."""
    base = open_untrusted(source)
    edit = open_untrusted(answer).convert("RGB")
    if edit.size != base.size:
        edit = ImageOps.fit(edit, base.size, Image.Resampling.LANCZOS)
    weights = feathered(read_mask(mask, base.size))
    if base.mode == "RGBA":
        edit = edit.convert("RGBA")
        edit.putalpha(base.getchannel("A"))  # an edit changes colours, not transparency
    result = Image.composite(edit, base.convert(edit.mode), weights)
    buffer = io.BytesIO()
    result.save(buffer, "PNG")
    return buffer.getvalue()
