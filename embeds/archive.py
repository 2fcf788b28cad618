"""A ZIP of a user's originals, streamed: the gallery's "Download as ZIP".

The archive is written by ``zipfile`` into a pipe whose bytes are handed on as each file is
done, so the server holds one original at a time, never the archive. The entries are STORED
(not deflated): originals are PNG/JPEG/WEBP, already compressed, and deflating them again costs
CPU for a percent or two. Names are a slug of the upload's name or the prompt, plus the first
eight characters of the id (unique in practice, and findable in the gallery), and the file's
own extension.

What the server cannot put in: a private (client-mode) image is ciphertext to it (only the
browser holds its key), and an image still being made has no original yet. Those are listed in
``NOT-INCLUDED.txt`` inside the archive, with the reason, so the ZIP says what it is missing.

Every data key is unwrapped (one batched keyring call) before the first byte is sent, so a
keyring outage is a clean 503; a storage failure half-way can only cut the stream short (the
client sees a truncated ZIP, which every unzip tool reports), as any streamed download.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

from django.utils.text import slugify

from core.hot_path import blocking

from . import imaging, sealing
from .content import ImageContent
from .models import Embed

NOT_INCLUDED = "NOT-INCLUDED.txt"


class _Pipe(io.RawIOBase):
    """A write-only stream that keeps what ``zipfile`` wrote until it is taken. Not seekable,
    so ``zipfile`` writes each entry's sizes after its data (a data descriptor)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def entry_name(embed: Embed, content: ImageContent | None, extension: str) -> str:
    """``<slug>-<id8>.<ext>``: the upload's own name (without its extension) or the prompt."""
    words = (content.file_name or "").rsplit(".", 1)[0] if content and content.file_name else ""
    words = words or (content.prompt if content and content.prompt else "")
    slug = slugify(words)[:60].strip("-") or "image"
    return f"{slug}-{str(embed.id)[:8]}.{extension}"


def _reason(embed: Embed) -> str | None:
    if embed.encryption_mode == Embed.EncryptionMode.CLIENT:
        return "private: encrypted in your browser, the server cannot read it (open it in the gallery)"
    if embed.status != Embed.Status.FINISHED:
        return "not finished: still being made, or it failed"
    return None


def zip_originals(embeds: list[Embed]) -> Iterator[bytes]:
    """The ZIP's bytes, a file at a time. The keys are unwrapped here, before the generator is
    made, so a keyring failure raises now (an error response), not half-way through."""
    readable = [e for e in embeds if _reason(e) is None]
    opened = sealing.open_embeds(readable)
    left_out = [(e, reason) for e in embeds if (reason := _reason(e))]
    return _stream(opened, left_out)


def _stream(opened: list[sealing.OpenEmbed], left_out: list[tuple[Embed, str]]) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED) as archive:
        for item in opened:
            data = item.load_file("original")
            fmt = (imaging.image_type(data) or ("bin", ""))[0]
            name = entry_name(item.embed, item.image(), {"jpeg": "jpg"}.get(fmt, fmt))
            info = zipfile.ZipInfo(name, date_time=_zip_time(item.embed.created_at))
            with archive.open(info, "w", force_zip64=len(data) > 0x7FFF0000) as entry:
                entry.write(data)
            yield pipe.take()
        if left_out:
            lines = [f"{e.id}  {reason}" for e, reason in left_out]
            text = "These images are not in this archive:\n\n" + "\n".join(lines) + "\n"
            archive.writestr(zipfile.ZipInfo(NOT_INCLUDED, date_time=_zip_time(None)), text)
    yield pipe.take()


def _zip_time(when: datetime | None) -> tuple[int, int, int, int, int, int]:
    if when is None:
        return (1980, 1, 1, 0, 0, 0)
    return (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)


async def in_the_loop(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The same bytes for an ASGI server: each file's read and decryption on the blocking pool,
    one at a time, so the event loop is never blocked and the ZIP is streamed rather than
    collected (Django gathers a sync iterator into a list before sending it under ASGI)."""
    done = object()
    while (chunk := await blocking(next, chunks, done)) is not done:
        yield chunk
