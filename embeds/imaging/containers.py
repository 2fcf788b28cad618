"""Metadata at the container level, without touching pixel data.

The provider's original keeps its exact pixel stream (watermarks such as SynthID live in the
pixels): we only drop the source's text/EXIF/XMP chunks and insert our XMP packet — an iTXt
chunk after IHDR in PNG, an APP1 segment in JPEG, an ``XMP `` chunk in WebP.
"""

from __future__ import annotations

import struct
import zlib

from .errors import InvalidImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Everything else is dropped: tEXt/zTXt/iTXt (e.g. ComfyUI workflows), eXIf, tIME, old C2PA.
_PNG_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
    b"acTL",
    b"fcTL",
    b"fdAT",
    b"bKGD",
    b"cICP",
}
XMP_KEYWORD = b"XML:com.adobe.xmp"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def image_type(data: bytes) -> tuple[str, str] | None:
    """(format, MIME type) of the containers we store, from their signature; None for others."""
    if data.startswith(PNG_SIGNATURE):
        return "png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg", "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidImage("not_an_image", "This is not a PNG file.")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise InvalidImage("truncated", "The PNG file is truncated.")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_with_xmp(data: bytes, xmp: bytes) -> bytes:
    itxt = XMP_KEYWORD + b"\x00" + b"\x00\x00" + b"\x00" + b"\x00" + xmp  # no compression, no language
    out = [PNG_SIGNATURE]
    for kind, body in png_chunks(data):
        if kind not in _PNG_KEEP:
            continue
        out.append(_chunk(kind, body))
        if kind == b"IHDR":
            out.append(_chunk(b"iTXt", itxt))
    return b"".join(out)


def jpeg_with_xmp(data: bytes, xmp: bytes) -> bytes:
    """Drop APP1 (EXIF/XMP), APP13 (IPTC/IRB) and comments; insert our XMP after SOI/APP0."""
    if not data.startswith(b"\xff\xd8"):
        raise InvalidImage("not_an_image", "This is not a JPEG file.")
    segments, offset = [], 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded image data
            break
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        segments.append((marker, data[offset : offset + 2 + length]))
        offset += 2 + length
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + len(JPEG_XMP_HEADER) + len(xmp)) + JPEG_XMP_HEADER + xmp
    kept = [seg for marker, seg in segments if marker not in (0xE1, 0xED, 0xFE)]
    head = [seg for seg in kept if seg[1] == 0xE0][:1]
    rest = [seg for seg in kept if seg not in head]
    return b"\xff\xd8" + b"".join(head) + app1 + b"".join(rest) + data[offset:]


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def webp_with_xmp(data: bytes, xmp: bytes, width: int, height: int, has_alpha: bool) -> bytes:
    """Rewrite a WebP's RIFF chunks: keep the image data, drop EXIF/XMP, add ours (VP8X flags)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise InvalidImage("not_an_image", "This is not a WebP file.")
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        (length,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 8 + length + (length % 2)
    body_chunks = [(k, b) for k, b in chunks if k not in (b"VP8X", b"EXIF", b"XMP ", b"C2PA")]
    flags = 0x04  # XMP
    if has_alpha or any(k == b"ALPH" for k, _ in body_chunks):
        flags |= 0x10
    if any(k == b"ICCP" for k, _ in body_chunks):
        flags |= 0x20
    if any(k == b"ANIM" for k, _ in body_chunks):
        flags |= 0x02
    vp8x = struct.pack("<I", flags) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    payload = b"WEBP" + _riff_chunk(b"VP8X", vp8x)
    payload += b"".join(_riff_chunk(k, b) for k, b in body_chunks) + _riff_chunk(b"XMP ", xmp)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload
