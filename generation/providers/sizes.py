"""Pixel sizes for our aspect ratios: about one megapixel at "1K", every side a multiple of 16.

Each size is within 1% of its aspect ratio, except 16:9 and 9:16, which keep the 1344×768 that
Gemini's own 1K table uses (1.6% off; the web UI and its tests know that size). "2K" and "4K"
double and quadruple both sides, as Gemini's 2K/4K outputs do.
"""

from __future__ import annotations

SIZES_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1152),
    "4:3": (1152, 864),
    "4:5": (896, 1120),
    "5:4": (1120, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1568, 672),
}
SCALES: dict[str, int] = {"1K": 1, "2K": 2, "4K": 4}


def dimensions_for(aspect_ratio: str, image_size: str = "1K") -> tuple[int, int]:
    """(width, height) in pixels for one of ``registry.ASPECT_RATIOS`` at "1K" | "2K" | "4K".

    Raises ``ValueError`` for an aspect ratio or size we do not know.
    """
    try:
        width, height = SIZES_1K[aspect_ratio]
        scale = SCALES[image_size.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown aspect ratio {aspect_ratio!r} or image size {image_size!r}") from None
    return width * scale, height * scale
