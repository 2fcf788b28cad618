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


# Segments a JPEG's pixels depend on; every other APPn (EXIF/XMP, IPTC, maker notes, MPF,
# FlashPix) and every comment is metadata.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0–SOF15
_JPEG_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDD}) | _JPEG_FRAMES  # DHT, DAC, DQT, DRI, frames
_JFIF_DEFAULT_DENSITY = b"\x00\x00\x01\x00\x01"  # units 0, 1:1 aspect


def jpeg_without_metadata(data: bytes) -> bytes | None:
    """The same JPEG with only what its pixels depend on: a fresh JFIF header (no thumbnail),
    the ICC profile and Adobe colour-transform segments, the tables, frame and scans, up to the
    first image's EOI (anything after it, such as an MPO's second picture, goes). The entropy-coded
    data is copied byte for byte, so the decoded pixels are exactly the upload's. ``None`` when the
    file is not a JPEG this walk fully understands (the caller re-encodes instead)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    density = _JFIF_DEFAULT_DENSITY
    kept: list[bytes] = []
    offset, end = 2, len(data)
    while True:
        while offset < end and data[offset] == 0xFF and offset + 1 < end and data[offset + 1] == 0xFF:
            offset += 1  # fill bytes before a marker
        if offset + 4 > end or data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        segment = data[offset : offset + 2 + length]
        if length < 2 or len(segment) != 2 + length:
            return None
        body = segment[4:]
        offset += 2 + length
        if marker == 0xE0:
            if body.startswith(b"JFIF\x00") and len(body) >= 12:
                density = body[7:12]
        elif marker == 0xE2:
            if body.startswith(b"ICC_PROFILE\x00"):
                kept.append(segment)
        elif marker == 0xEE:
            if body.startswith(b"Adobe"):
                kept.append(segment)
        elif marker in _JPEG_TABLES:
            kept.append(segment)
        elif marker == 0xDA:
            scan_end = _scan_end(data, offset)
            if scan_end is None:
                return None
            kept.append(segment + data[offset:scan_end])
            offset = scan_end
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            continue  # metadata
        else:
            return None  # a marker we do not know: do not guess
    jfif = b"JFIF\x00\x01\x02" + density + b"\x00\x00"
    app0 = b"\xff\xe0" + struct.pack(">H", 2 + len(jfif)) + jfif
    return b"\xff\xd8" + app0 + b"".join(kept) + b"\xff\xd9"


def _scan_end(data: bytes, offset: int) -> int | None:
    """Where the entropy-coded data that starts at ``offset`` ends: the next marker that is
    neither a stuffed 0xFF00 nor a restart marker (RST0–7)."""
    while True:
        offset = data.find(b"\xff", offset)
        if offset < 0 or offset + 1 >= len(data):
            return None
        following = data[offset + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            offset += 2
        elif following == 0xFF:
            offset += 1
        else:
            return offset


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
