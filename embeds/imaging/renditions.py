"""The three renditions of an image: original, full WEBP, preview WEBP.

Generated images: the original is the provider's file with its pixel stream untouched (only
our XMP inserted at container level), the full WEBP is encoded at quality ≥ 90 (provider
watermarks live in the pixels), the preview fits inside 600×400 without cropping or upscaling;
all three carry the XMP label and are C2PA-signed last. Uploads carry no AI label and no source
metadata: an upright JPEG keeps its own scans minus every metadata segment, anything else is
rebuilt from its pixels.

The image is decoded once; the two WEBP encodes and the three signatures run in parallel
threads (Pillow and the c2pa library release the GIL), which is what keeps the pipeline near
the cost of a single WEBP encode.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from ..conf import conf
from . import containers
from .budget import image_memory
from .decode import open_untrusted
from .errors import InvalidImage
from .provenance import sign
from .xmp import AiLabel, build_xmp

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="renditions")
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# libwebp method 2: measured here at ~0.6x the time of its default (4) for +2-3% bytes at the
# same quality setting (bench/pipeline.py), which keeps the pipeline under one cwebp -q 90.
WEBP_METHOD = 2


@dataclass(frozen=True)
class Rendition:
    variant: str
    data: bytes
    width: int
    height: int
    format: str
    mime: str


def _rendition(variant: str, data: bytes, size: tuple[int, int], fmt: str) -> Rendition:
    return Rendition(variant=variant, data=data, width=size[0], height=size[1], format=fmt, mime=_MIME[fmt])


def _webp(image: Image.Image, quality: int, xmp: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": quality, "method": WEBP_METHOD}
    if xmp:
        options["xmp"] = xmp
    image.save(buffer, "WEBP", **options)
    return buffer.getvalue()


def _preview_image(image: Image.Image) -> Image.Image:
    max_w, max_h = conf().PREVIEW_MAX_SIZE
    scale = min(max_w / image.width, max_h / image.height, 1.0)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _labelled_original(data: bytes, image: Image.Image, xmp: bytes) -> tuple[bytes, str]:
    if data.startswith(containers.PNG_SIGNATURE):
        return containers.png_with_xmp(data, xmp), "png"
    if data.startswith(b"\xff\xd8"):
        return containers.jpeg_with_xmp(data, xmp), "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return containers.webp_with_xmp(data, xmp, image.width, image.height, image.mode == "RGBA"), "webp"
    # Any other container (GIF, TIFF…) is re-encoded losslessly as PNG.
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return containers.png_with_xmp(buffer.getvalue(), xmp), "png"


def render_generated(
    data: bytes, label: AiLabel, *, sign_c2pa: bool = True, wait_seconds: float | None = None
) -> dict[str, Rendition]:
    """Original + full + preview of a generated (or AI-edited) image, labelled and signed.

    Each of these functions decodes and renders within the process's image memory budget,
    waiting up to ``wait_seconds`` (None: as long as it takes) for its share."""
    with image_memory(data, wait_seconds=wait_seconds):
        return _render_generated(data, label, sign_c2pa=sign_c2pa)


def _render_generated(data: bytes, label: AiLabel, *, sign_c2pa: bool) -> dict[str, Rendition]:
    image = open_untrusted(data)
    xmp = build_xmp(label)
    settings = conf()
    full = _pool.submit(_webp, image, settings.FULL_WEBP_QUALITY, xmp)
    preview_image = _preview_image(image)
    preview = _pool.submit(_webp, preview_image, settings.PREVIEW_WEBP_QUALITY, xmp)
    original, original_format = _labelled_original(data, image, xmp)
    unsigned = {
        "original": (original, image.size, original_format),
        "full": (full.result(), image.size, "webp"),
        "preview": (preview.result(), preview_image.size, "webp"),
    }
    if not sign_c2pa:
        return {v: _rendition(v, d, size, fmt) for v, (d, size, fmt) in unsigned.items()}
    signed = {v: _pool.submit(sign, d, _MIME[fmt], label) for v, (d, _, fmt) in unsigned.items()}
    return {v: _rendition(v, signed[v].result(), size, fmt) for v, (_, size, fmt) in unsigned.items()}


def _clean_original(data: bytes, image: Image.Image) -> tuple[bytes, str]:
    """The upload without its metadata. A JPEG stored upright keeps its own bytes minus every
    metadata segment (its pixels and size exactly as sent, no second lossy encode); anything
    else, or a JPEG whose EXIF orientation must be applied to the pixels, is rebuilt from the
    decoded pixels (JPEG q95 4:4:4 for such a photo, lossless PNG otherwise)."""
    source_format, orientation = _source_format(data)
    if source_format in ("JPEG", "MPO") and orientation == 1:
        stripped = containers.jpeg_without_metadata(data)
        if stripped is not None and _decodes_as(stripped, image.size):
            return stripped, "jpeg"
    buffer = io.BytesIO()
    if source_format in ("JPEG", "MPO") and image.mode == "RGB":
        image.save(buffer, "JPEG", quality=95, subsampling=0)
        return buffer.getvalue(), "jpeg"
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue(), "png"


def _source_format(data: bytes) -> tuple[str | None, int]:
    """The container format and the EXIF orientation (1 = upright) of an accepted upload."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.format, int(probe.getexif().get(0x0112, 1) or 1)
    except Exception:  # open_untrusted already refused anything unreadable
        return None, 1


def _decodes_as(data: bytes, size: tuple[int, int]) -> bool:
    """A header-level check that the stripped JPEG is still the image we decoded."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return probe.format == "JPEG" and probe.size == size and probe.mode in ("RGB", "L", "CMYK")
    except Exception:
        return False


def render_upload(data: bytes, *, wait_seconds: float | None = None) -> dict[str, Rendition]:
    """Original (rebuilt from pixels) + full + preview of an upload; no AI label, no C2PA."""
    with image_memory(data, wait_seconds=wait_seconds):
        return _render_upload(data)


def _render_upload(data: bytes) -> dict[str, Rendition]:
    image = open_untrusted(data)
    settings = conf()
    full = _pool.submit(_webp, image, settings.FULL_WEBP_QUALITY, None)
    preview_image = _preview_image(image)
    preview = _pool.submit(_webp, preview_image, settings.PREVIEW_WEBP_QUALITY, None)
    original, original_format = _clean_original(data, image)
    return {
        "original": _rendition("original", original, image.size, original_format),
        "full": _rendition("full", full.result(), image.size, "webp"),
        "preview": _rendition("preview", preview.result(), preview_image.size, "webp"),
    }


def clean_image_bytes(data: bytes, *, wait_seconds: float | None = None) -> bytes:
    """An EXIF-stripped, oriented PNG of any accepted image (what leaves for a provider)."""
    buffer = io.BytesIO()
    with image_memory(data, wait_seconds=wait_seconds):
        open_untrusted(data).save(buffer, "PNG")
    return buffer.getvalue()


def crop_to_png(
    original: bytes, box: tuple[int, int, int, int], *, wait_seconds: float | None = None
) -> bytes:
    """A PNG of the rectangle (left, top, width, height) of the original, in its pixels."""
    with image_memory(original, wait_seconds=wait_seconds):
        return _crop_to_png(original, box)


def _crop_to_png(original: bytes, box: tuple[int, int, int, int]) -> bytes:
    image = open_untrusted(original)
    left, top, width, height = box
    if (
        width < 1
        or height < 1
        or left < 0
        or top < 0
        or left + width > image.width
        or top + height > image.height
    ):
        raise InvalidImage(
            "out_of_bounds", f"The rectangle must lie inside the {image.width}×{image.height} image."
        )
    buffer = io.BytesIO()
    image.crop((left, top, left + width, top + height)).save(buffer, "PNG")
    return buffer.getvalue()
