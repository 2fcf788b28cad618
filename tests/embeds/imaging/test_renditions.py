"""Image work checked by independent readers: exiftool for metadata, c2pa's Reader for provenance."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import zlib

import piexif
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from embeds import imaging
from embeds.imaging import containers

HOSTILE_PROMPT = "a <b>\"red\"</b> & 'fox' \x01\x07\x1b ]]> <!-- 🦊 שלום مرحبا \u202e\ufffe end"


def exiftool(data: bytes, tmp_path, *args: str) -> dict:
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", *args, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)[0]


def _png(size=(300, 200), color=(10, 200, 30), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG", **save)
    return buffer.getvalue()


XMP_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    b' exif:GPSLatitude="52,31.0N" exif:GPSLongitude="13,24.0E" photoshop:City="Berlin"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def dirty_jpeg(orientation: int = 6, **save) -> bytes:
    """A JPEG with GPS, serials, owner, MakerNote, an IFD1 thumbnail, an orientation (6 by default),
    XMP and a comment; the top-left corner is red so orientation can be checked."""
    image = Image.new("RGB", (120, 80), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    thumb = io.BytesIO()
    Image.new("RGB", (32, 24), (255, 255, 0)).save(thumb, "JPEG")
    exif = piexif.dump(
        {
            "0th": {
                piexif.ImageIFD.Orientation: orientation,
                piexif.ImageIFD.Artist: b"Jane Doe",
                piexif.ImageIFD.Copyright: b"(c) Jane Doe",
                piexif.ImageIFD.HostComputer: b"janes-laptop",
            },
            "Exif": {
                piexif.ExifIFD.BodySerialNumber: b"SN-123456",
                piexif.ExifIFD.CameraOwnerName: b"Jane Doe",
                piexif.ExifIFD.MakerNote: b"vendor secret location blob",
                piexif.ExifIFD.LensSerialNumber: b"LENS-999",
            },
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((52, 1), (31, 1), (0, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((13, 1), (24, 1), (0, 1)),
            },
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": thumb.getvalue(),
        }
    )
    buffer = io.BytesIO()
    comment = b"shot at home, 5th avenue"
    image.save(buffer, "JPEG", exif=exif, quality=95, comment=comment, **save)
    data = buffer.getvalue()
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + len(containers.JPEG_XMP_HEADER) + len(XMP_GPS))
    app1 += containers.JPEG_XMP_HEADER + XMP_GPS
    return data[:2] + app1 + data[2:]


def dirty_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "masterpiece, Jane's kitchen, Steps: 20, Seed: 1234")
    info.add_text("prompt", '{"3": {"inputs": {"text": "my secret prompt"}}}')
    info.add_text("workflow", '{"nodes": []}')
    info.add_text("Raw profile type exif", "exif\n 20\n4578696600004d4d", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP_GPS.decode())
    exif = piexif.dump(
        {"GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((1, 1), (2, 1), (3, 1))}}
    )
    return _png(pnginfo=info, exif=exif)


def dirty_webp() -> bytes:
    exif = piexif.dump(
        {"0th": {piexif.ImageIFD.Artist: b"Jane Doe"}, "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"S"}}
    )
    buffer = io.BytesIO()
    Image.new("RGB", (90, 60), (5, 5, 5)).save(buffer, "WEBP", exif=exif, xmp=XMP_GPS)
    return buffer.getvalue()


IDENTIFYING = (
    "GPS",
    "Serial",
    "Artist",
    "Copyright",
    "MakerNote",
    "Thumbnail",
    "City",
    "Parameters",
    "Prompt",
    "Workflow",
    "Comment",
    "OwnerName",
    "HostComputer",
    "Raw profile",
)


def dirty_upright_jpeg() -> bytes:
    """dirty_jpeg stored upright, progressive with restart markers, with an IPTC (APP13) block, an
    ICC profile and a second picture after the first's EOI (as an MPO or a hidden payload has)."""
    data = dirty_jpeg(orientation=1, progressive=True, restart_marker_rows=1, icc_profile=_SRGB_ICC)
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x10\x1c\x02\x5a\x00\x06Berlin\x00\x00\x00\x00"
    app13 = b"\xff\xed" + struct.pack(">H", 2 + len(iptc)) + iptc
    hidden = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(hidden, "JPEG", comment=b"Jane's secret second picture")
    return data[:2] + app13 + data[2:] + hidden.getvalue()


_SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("builder", [dirty_jpeg, dirty_upright_jpeg, dirty_png, dirty_webp])
def test_uploads_come_out_clean(builder, tmp_path):
    dirty = builder()
    before = exiftool(dirty, tmp_path)
    assert any(any(word.lower() in key.lower() for word in ("GPS", "Artist", "Parameters")) for key in before)
    for rendition in imaging.render_upload(dirty).values():
        tags = exiftool(rendition.data, tmp_path)
        # An ICC profile is colour data an upright JPEG keeps (its "Copyright" is the profile maker's).
        leaked = [
            key
            for key in tags
            if not key.startswith("ICC") and any(word.lower() in key.lower() for word in IDENTIFYING)
        ]
        assert not leaked, (rendition.variant, leaked)
        assert b"Jane" not in rendition.data and b"secret" not in rendition.data
        assert not any(key.startswith(("XMP", "IPTC", "EXIF", "IFD", "Photoshop")) for key in tags), (
            tags.keys()
        )


def test_an_upright_jpeg_keeps_its_own_bytes_minus_metadata(tmp_path):
    """No second lossy encode: the same scans byte for byte, so the same pixels and a smaller file."""
    upload = dirty_upright_jpeg()
    original = imaging.render_upload(upload)["original"]
    assert original.format == "jpeg" and original.mime == "image/jpeg"
    with Image.open(io.BytesIO(upload)) as sent, Image.open(io.BytesIO(original.data)) as kept:
        assert kept.size == sent.size == (120, 80)
        assert kept.tobytes() == sent.tobytes()
        assert kept.info.get("progressive") and kept.info.get("icc_profile") == _SRGB_ICC
    scans = original.data[original.data.index(b"\xff\xda") : -2]  # first SOS to before EOI
    assert len(scans) > 500 and scans in upload  # the upload's scans and tables, byte for byte
    assert len(original.data) < len(upload)
    assert b"second picture" not in original.data and original.data.count(b"\xff\xd8") == 1
    tags = exiftool(original.data, tmp_path, "-a", "-G1")
    assert not [k for k in tags if k.startswith(("IPTC", "IFD", "ExifIFD", "GPS", "XMP", "MPF"))], tags.keys()


def test_orientation_is_applied_before_stripping(tmp_path):
    original = imaging.render_upload(dirty_jpeg())["original"]
    image = Image.open(io.BytesIO(original.data)).convert("RGB")
    assert image.size == (80, 120)  # rotated 90° as Orientation=6 says
    red = image.getpixel((image.width - 5, 5))  # the red top-left corner now sits top-right
    assert red[0] > 200 and red[2] < 60
    assert "Orientation" not in exiftool(original.data, tmp_path, "-Orientation")


def test_clean_image_bytes_for_providers_is_stripped(tmp_path):
    clean = imaging.clean_image_bytes(dirty_png())
    assert clean.startswith(b"\x89PNG")
    tags = exiftool(clean, tmp_path)
    assert not [k for k in tags if any(w.lower() in k.lower() for w in IDENTIFYING)]


def test_generated_renditions_sizes_formats_and_untouched_pixels(tmp_path):
    provider = _png((1344, 768), (120, 40, 200))
    renditions = imaging.render_generated(provider, imaging.AiLabel(model_name="model-x", prompt="p"))
    original, full, preview = renditions["original"], renditions["full"], renditions["preview"]
    assert original.data.startswith(b"\x89PNG") and original.mime == "image/png"
    assert full.data[:4] == preview.data[:4] == b"RIFF"
    assert (full.width, full.height) == (1344, 768)
    assert (preview.width, preview.height) == (600, 343)
    idat = lambda data: b"".join(body for kind, body in containers.png_chunks(data) if kind == b"IDAT")  # noqa: E731
    assert idat(original.data) == idat(provider)  # the provider's pixel stream, byte for byte
    assert Image.open(io.BytesIO(original.data)).tobytes() == Image.open(io.BytesIO(provider)).tobytes()


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1024, 1024), (400, 400)),
        ((768, 1344), (229, 400)),
        ((1536, 640), (600, 250)),
        ((300, 200), (300, 200)),
    ],
)
def test_preview_fits_600x400_without_crop_or_upscale(size, expected):
    renditions = imaging.render_upload(_png(size))
    assert (renditions["preview"].width, renditions["preview"].height) == expected


def test_every_rendition_carries_the_iptc_ai_fields(tmp_path):
    label = imaging.AiLabel(
        model_name="gemini-3-pro-image-preview", model_version="2.5", prompt="a lighthouse"
    )
    for rendition in imaging.render_generated(_png(), label).values():
        tags = exiftool(rendition.data, tmp_path, "-XMP:all", "-api", "structformat=jsonq")
        assert tags["XMP-iptcExt:DigitalSourceType"] == (
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
        )
        assert tags["XMP-iptcExt:AISystemUsed"] == "gemini-3-pro-image-preview"
        assert str(tags["XMP-iptcExt:AISystemVersionUsed"]) == "2.5"
        assert tags["XMP-iptcExt:AIPromptInformation"] == "a lighthouse"
        assert tags["XMP-xmp:CreatorTool"].startswith("OpenMates Images")
        assert tags["XMP-photoshop:Credit"] == "Generated with AI by OpenMates"


def test_prompt_opt_out_and_composite_label(tmp_path):
    label = imaging.AiLabel(model_name="m", prompt=None, composite=True)
    tags = exiftool(imaging.render_generated(_png(), label)["full"].data, tmp_path, "-XMP:all")
    assert "XMP-iptcExt:AIPromptInformation" not in tags
    assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")


def test_hostile_prompt_still_makes_a_valid_packet(tmp_path):
    label = imaging.AiLabel(model_name="m <&>", prompt=HOSTILE_PROMPT)
    for rendition in imaging.render_generated(_png(), label).values():
        path = tmp_path / f"v.{rendition.format}"
        path.write_bytes(rendition.data)
        validate = subprocess.run(
            ["exiftool", "-validate", "-warning", "-a", str(path)], capture_output=True, text=True
        )
        assert "Validate                        : OK" in validate.stdout, validate.stdout
        tags = exiftool(rendition.data, tmp_path, "-XMP:all")
        prompt = tags["XMP-iptcExt:AIPromptInformation"]
        assert '<b>"red"</b> &' in prompt and "🦊" in prompt and "\x01" not in prompt


def test_c2pa_trusted_with_the_right_source_type_on_every_rendition():
    label = imaging.AiLabel(model_name="flux-2-klein", model_version="9b", prompt="x")
    for rendition in imaging.render_generated(_png(), label).values():
        report = imaging.read_provenance(rendition.data, rendition.mime)
        assert report["state"] == "Trusted", report
        assert report["digital_source_type"].endswith("/trainedAlgorithmicMedia")
        assert report["ai_system"] == "flux-2-klein"
        assert report["actions"] == [
            {"action": "c2pa.created", "digitalSourceType": report["digital_source_type"]}
        ]
        assert report["signer"] and not report["validation_errors"]
        assert report["trust_anchor"] == "local_test_root"  # not a claim of public trust


@pytest.mark.parametrize(
    ("label", "later"),
    [
        (
            imaging.AiLabel(
                model_name="gemini-3-pro-image-preview", composite=True, actions=("c2pa.edited",)
            ),
            [{"action": "c2pa.edited", "digitalSourceType": imaging.xmp.COMPOSITE}],
        ),
        (
            imaging.AiLabel(model_name="procedural-1", actions=("c2pa.cropped",)),
            [{"action": "c2pa.cropped", "digitalSourceType": None}],
        ),
    ],
)
def test_edits_and_crops_record_what_was_done_after_creation(label, later):
    for rendition in imaging.render_generated(_png(), label).values():
        report = imaging.read_provenance(rendition.data, rendition.mime)
        assert report["state"] == "Trusted" and not report["validation_errors"], report
        assert report["ai_system"] == label.model_name
        assert report["actions"] == [
            {"action": "c2pa.created", "digitalSourceType": label.digital_source_type},
            *later,
        ]


def test_a_flipped_byte_reads_invalid():
    rendition = imaging.render_generated(_png(), imaging.AiLabel(model_name="m"))["original"]
    idat_at = rendition.data.index(b"IDAT") + 20
    tampered = bytearray(rendition.data)
    tampered[idat_at] ^= 0xFF
    assert imaging.read_provenance(bytes(tampered), "image/png")["state"] == "Invalid"


def test_uploads_carry_no_ai_label_and_no_manifest(tmp_path):
    for rendition in imaging.render_upload(_png()).values():
        assert imaging.read_provenance(rendition.data, rendition.mime) == {"state": "none"}
        assert "XMP-iptcExt:DigitalSourceType" not in exiftool(rendition.data, tmp_path)


def test_local_pki_is_made_once_under_the_configured_dir(settings, tmp_path):
    from embeds.imaging import pki

    settings.EMBEDS = {**settings.EMBEDS, "C2PA_LOCAL_PKI_DIR": str(tmp_path / "pki")}
    pki.reset()
    try:
        first = pki.signing_identity()
        pki.reset()
        assert pki.signing_identity() == first
        assert (tmp_path / "pki" / "signing-key.pem").stat().st_mode & 0o777 == 0o600
        rendition = imaging.render_generated(_png(), imaging.AiLabel(model_name="m"))["preview"]
        assert imaging.read_provenance(rendition.data, rendition.mime)["state"] == "Trusted"
    finally:
        pki.reset()


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (b"hello", "not_an_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_an_image"),
        (b"<!doctype html><p>hi", "not_an_image"),
        (_png_header(50_000, 50_000), "too_many_pixels"),
        (None, "truncated"),
    ],
)
def test_bad_inputs_have_clear_codes(data, code):
    if data is None:
        data = _png((400, 400), (1, 2, 3))[:200]
    with pytest.raises(imaging.InvalidImage) as raised:
        imaging.render_upload(data)
    assert raised.value.code == code
    assert raised.value.message


def test_crop_bounds():
    png = _png((100, 50))
    assert imaging.image_size(imaging.crop_to_png(png, (10, 10, 30, 20))) == (30, 20)
    with pytest.raises(imaging.InvalidImage):
        imaging.crop_to_png(png, (90, 0, 20, 10))
