"""Decoding untrusted bytes safely, and rebuilding images from pixels only.

Dimensions are checked before any pixel is decoded (decompression bombs), the whole image is
loaded so truncation is caught here, EXIF orientation is applied, and the result is a fresh
image with no ``info`` at all: nothing of the source's metadata (GPS, serials, MakerNote,
thumbnails, XMP, IPTC, text chunks) can travel on. Colours are kept by converting any embedded
ICC profile to sRGB.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..conf import conf
from .errors import InvalidImage

_SRGB = ImageCms.createProfile("sRGB")
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
# libwebp's limit for either side: a wider image could be stored but never rendered as WEBP.
# It is refused rather than shrunk: the "full" rendition is the image at its own size.
MAX_SIDE = 16383
# ISO-BMFF brands of HEIF/HEIC/AVIF: images, just not ones we decode.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def open_untrusted(data: bytes) -> Image.Image:
    """A loaded, oriented, metadata-free RGB/RGBA image from untrusted bytes."""
    if not data:
        raise InvalidImage("not_an_image", "The file is empty.")
    if _is_heif(data):
        raise InvalidImage("unsupported_format", "HEIC/HEIF/AVIF images are not supported; send JPEG or PNG.")
    max_pixels = conf().MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise InvalidImage("unsupported_format", f"{image.format} images are not supported.")
            width, height = image.size
            if width < 1 or height < 1:
                raise InvalidImage("not_an_image", "The image has no pixels.")
            if max(width, height) > MAX_SIDE:
                raise InvalidImage(
                    "side_too_long",
                    f"The image is {width}×{height}; each side may be at most {MAX_SIDE:,} pixels.",
                )
            if width * height > max_pixels:
                raise InvalidImage(
                    "too_many_pixels",
                    f"The image is {width}×{height}; at most {max_pixels:,} pixels are accepted.",
                )
            image.load()
            icc = image.info.get("icc_profile")
            image = ImageOps.exif_transpose(image)
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("too_many_pixels", "The image is too large to process safely.") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("not_an_image", "The file is not an image we can read.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc).lower()
        if (
            "truncated" in message
            or "broken" in message
            or "incomplete" in message
            or isinstance(exc, EOFError)
        ):
            raise InvalidImage("truncated", "The image file is truncated or damaged.") from exc
        raise InvalidImage("truncated", "The image file is damaged and cannot be decoded.") from exc
    return _normalised(image, icc)


def _normalised(image: Image.Image, icc: bytes | None) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value / 256).convert("L")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target_mode = "RGBA" if has_alpha and image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target_mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: fall back to a plain conversion
    image = image.convert("RGBA" if has_alpha else "RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)  # a fresh image: no info, no exif, no text chunks
    return clean


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header only."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidImage("not_an_image", "The file is not an image we can read.") from exc
