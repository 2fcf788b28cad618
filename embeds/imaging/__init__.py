"""Pure image work: safe decoding, metadata stripping, renditions, AI labels and provenance.

No database, storage or encryption here; callers pass bytes and get bytes back.
"""

from .containers import image_type
from .decode import image_size
from .errors import ImagingBusy, InvalidImage
from .provenance import read_provenance
from .renditions import Rendition, clean_image_bytes, crop_to_png, render_generated, render_upload
from .xmp import VERSION as __version__
from .xmp import AiLabel, Ingredient

__all__ = [
    "AiLabel",
    "ImagingBusy",
    "Ingredient",
    "InvalidImage",
    "Rendition",
    "__version__",
    "clean_image_bytes",
    "crop_to_png",
    "image_size",
    "image_type",
    "read_provenance",
    "render_generated",
    "render_upload",
]
