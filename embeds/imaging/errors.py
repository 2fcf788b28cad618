"""Why an image was refused, in words a user understands."""

from __future__ import annotations

from core.faults import DependencyBusy


class InvalidImage(Exception):
    """``code``: not_an_image | truncated | too_many_pixels | side_too_long | image_too_large |
    unsupported_format | out_of_bounds."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ImagingBusy(DependencyBusy):
    """No memory was free in time to process the image: the caller may try again shortly."""
