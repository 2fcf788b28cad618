"""A process-wide memory budget for decoding and rendering untrusted images.

A small file can decode to a huge bitmap (a 15 KB 1-bit PNG of 6320×6320 is 40 M pixels), and
every step after the decode (conversion to RGB, the clean copy, libwebp's own buffers, the
preview) costs a few more bytes per pixel. Sixteen such uploads in parallel took a server from
0.2 to 6 GiB. So each render first reserves its estimated peak from one budget per process
(``IMAGE_MEMORY_BUDGET_BYTES``) and waits while the budget is spent: memory stays bounded however
many requests arrive, small images pass big ones that wait, and an image whose estimate alone
exceeds the budget is refused by its decoded size, before any pixel is decoded.

When the last render of a burst ends, freed memory is handed back to the OS (glibc keeps freed
heap pages in its arenas otherwise, and RSS would stay at the burst's peak).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..conf import conf
from .errors import ImagingBusy, InvalidImage

logger = logging.getLogger(__name__)

# Bytes per pixel of Pillow's in-memory storage, by mode ("1", "L" and "P" take a whole byte;
# every multi-band 8-bit mode is stored in 4).
_ONE_BYTE = {"1", "L", "P"}
_TWO_BYTES = {"I;16", "I;16L", "I;16B", "I;16N"}
# After the decode: the RGB(A) conversion and the clean copy (4 bytes each), libwebp's ARGB and
# YUV buffers (~5.5), the preview and the PNG/JPEG original's encoder (~1.5).
_WORKING_BYTES_PER_PIXEL = 15


def pixel_bytes(mode: str) -> int:
    """Bytes one decoded pixel of ``mode`` takes in Pillow."""
    if mode in _ONE_BYTE:
        return 1
    if mode in _TWO_BYTES:
        return 2
    return 4


def estimate_bytes(width: int, height: int, mode: str) -> int:
    """The peak memory of decoding and rendering an image of this size and mode."""
    return width * height * (pixel_bytes(mode) + _WORKING_BYTES_PER_PIXEL)


def _estimate_from_header(data: bytes) -> int:
    """The estimate for ``data``; 0 for what open_untrusted refuses anyway (unreadable, too many
    pixels, a side too long), so that its precise error is the answer."""
    from .decode import MAX_SIDE

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, mode = image.width, image.height, image.mode
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return 0
    if max(width, height) > MAX_SIDE or width * height > conf().MAX_IMAGE_PIXELS:
        return 0
    return estimate_bytes(width, height, mode)


def _memory_bytes() -> int:
    """Physical memory, or the cgroup's limit when it is lower (in a container)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def budget_bytes() -> int:
    """IMAGE_MEMORY_BUDGET_BYTES, or by default an eighth of memory, from 1 GiB (room for the
    largest accepted image) to 4 GiB."""
    configured = conf().IMAGE_MEMORY_BUDGET_BYTES
    if configured > 0:
        return configured
    return min(4 * 2**30, max(2**30, _memory_bytes() // 8))


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc
        return None


class MemoryBudget:
    """A counting semaphore over bytes."""

    def __init__(self) -> None:
        self._used = 0
        self._changed = threading.Condition()
        self._trim = _malloc_trim()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, amount: int, *, wait_seconds: float | None) -> Iterator[None]:
        """Hold ``amount`` bytes of the budget; ImagingBusy if none frees up in time."""
        limit = budget_bytes()
        if amount > limit:
            raise InvalidImage(
                "image_too_large",
                f"Decoding this image would take about {amount // 2**20:,} MiB; "
                f"at most {limit // 2**20:,} MiB are available for one image.",
            )
        with self._changed:
            if not self._changed.wait_for(lambda: self._used + amount <= limit, timeout=wait_seconds):
                raise ImagingBusy("The server is busy processing other images; try again shortly.")
            self._used += amount
        try:
            yield
        finally:
            with self._changed:
                self._used -= amount
                idle = self._used == 0
                self._changed.notify_all()
            if idle and self._trim is not None:
                self._trim(0)


budget = MemoryBudget()


@contextmanager
def image_memory(data: bytes, *, wait_seconds: float | None = None) -> Iterator[None]:
    """Reserve the memory rendering ``data`` will take (from its header alone).

    ``wait_seconds=None`` waits as long as it takes (workers); requests pass a limit, after
    which they answer 503 rather than hold a connection indefinitely."""
    with budget.reserve(_estimate_from_header(data), wait_seconds=wait_seconds):
        yield
