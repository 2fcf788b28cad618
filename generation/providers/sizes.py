"""Pixel sizes for our aspect ratios: about one megapixel at 1K, multiples of 64, like the
providers' own tables (1:1 -> 1024×1024, 16:9 -> 1344×768); 2K and 4K scale them up."""

from __future__ import annotations

SIZES_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (896, 1152),
    "4:3": (1152, 896),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
}
_SCALE = {"1K": 1, "2K": 2, "4K": 4}


def dimensions_for(aspect_ratio: str, image_size: str = "1K") -> tuple[int, int]:
    width, height = SIZES_1K[aspect_ratio]
    scale = _SCALE.get(image_size, 1)
    return width * scale, height * scale
