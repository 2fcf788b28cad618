"""The XMP packet that labels an image as AI-made (IPTC Photo Metadata 2025.1).

One packet per image with Iptc4xmpExt:DigitalSourceType, AISystemUsed, AISystemVersionUsed,
AIPromptInformation (unless the user opted out), xmp:CreatorTool and photoshop:Credit, in the
real IPTC namespace (``…/2008-02-29/``) that readers such as exiftool know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from ..conf import conf

VERSION = "0.1.0"
CREATOR_TOOL = f"OpenMates Images {VERSION}"
DST_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = DST_BASE + "trainedAlgorithmicMedia"
COMPOSITE = DST_BASE + "compositeWithTrainedAlgorithmicMedia"

# Characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Ingredient:
    """An image the AI drew on (a reference), named in the C2PA manifest as an ``inputTo``
    ingredient: ``data`` is that image's stored file, so its own manifest (when it has one) is
    the ingredient's."""

    title: str
    mime: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class AiLabel:
    model_name: str
    model_version: str | None = None
    prompt: str | None = None
    composite: bool = False
    # What was done after the AI made the image, as C2PA actions ("c2pa.edited" for an AI edit,
    # "c2pa.cropped" for a crop): recorded after "c2pa.created" in the manifest.
    actions: tuple[str, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()

    @property
    def digital_source_type(self) -> str:
        return COMPOSITE if self.composite else TRAINED


def xml_text(value: str) -> str:
    """User text made safe for an XML element: forbidden characters dropped, markup escaped."""
    return escape(_FORBIDDEN.sub("", value), {'"': "&quot;"})


def build_xmp(label: AiLabel) -> bytes:
    fields = [
        ("Iptc4xmpExt:DigitalSourceType", label.digital_source_type),
        ("Iptc4xmpExt:AISystemUsed", label.model_name),
    ]
    if label.model_version:
        fields.append(("Iptc4xmpExt:AISystemVersionUsed", label.model_version))
    if label.prompt:
        fields.append(("Iptc4xmpExt:AIPromptInformation", label.prompt))
    fields += [("xmp:CreatorTool", CREATOR_TOOL), ("photoshop:Credit", conf().CREDIT_LINE)]
    body = "\n".join(f"   <{tag}>{xml_text(value)}</{tag}>" for tag, value in fields)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">\n'
        f"{body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")
