"""Typed embed content: what an embed's sealed JSON holds, one frozen dataclass per embed type.

The content is the only place an embed keeps what it is about (prompt, model, files, results,
answer), so it is encrypted (``sealing.py``) and never a column. Every module that builds or reads
it goes through these classes: the actions build them, the pipeline replaces them
(``dataclasses.replace``) stage by stage, the sealing API seals and opens them, and the content
serializer (``openmates_images.schema``) takes its fields from the ones marked public here.

``to_json()`` writes the JSON that is sealed; ``from_json()`` reads it back. Reading is tolerant
of fields older rows lack (they take their defaults) and of keys it does not know (rows written
by a newer release), and strict about types: a value of the wrong JSON type raises
``ContentError``, which the API answers like any unreadable stored data (500).

A ``None`` field is left out of the JSON, except for the keys each kind of content has always
written as ``null`` (``_null_keys``): ``GET /v1/embeds/{id}/content`` shows what the JSON holds,
and keeping those keys keeps its answers byte for byte what they were before the types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, TypeVar, Union

from .crypto import DecryptionError

T = TypeVar("T")

AI_SOURCES = frozenset({"generated", "edit"})
IMAGE_SOURCES = ("generated", "edit", "upload", "crop")


class ContentError(DecryptionError):
    """Decrypted content that is not of its type's shape: as unreadable as a failed envelope."""


def public(help_text: str = "", *, fmt: str | None = None) -> dict[str, object]:
    """Field metadata: the field is shown by ``GET /v1/embeds/{id}/content`` (and described in
    the schema, as a ``fmt`` string such as ``date-time`` or ``uuid`` when given)."""
    return {"public": True, "help": help_text, "format": fmt}


# --- the generic codec: by each field's type hint ---------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_content_class(hint: object) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_json()  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def _decode(hint: object, value: object, where: str) -> object:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _decode(inner, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is dict or origin is dict:
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            if origin is dict and args[1] is not Any:
                return {key: _decode(args[1], item, f"{where}.{key}") for key, item in value.items()}
            return value
    elif origin in (list, tuple):
        if isinstance(value, list):
            items = [_decode(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
            return tuple(items) if origin is tuple else items
    elif _is_content_class(hint):
        if isinstance(value, dict):
            return hint.from_json(value, where=where)  # type: ignore[union-attr]
    else:  # pragma: no cover - a field type this codec was not taught
        raise TypeError(f"{where}: no codec for {hint!r}")
    raise ContentError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__}")


class _Json:
    """``to_json``/``from_json`` for a frozen dataclass, driven by its type hints."""

    # Keys written even when their value is None (see the module docstring).
    def _null_keys(self) -> frozenset[str]:
        return frozenset()

    def to_json(self) -> dict[str, object]:
        kind = getattr(self, "type", None)
        out: dict[str, object] = {"type": kind} if isinstance(kind, str) else {}
        kept = self._null_keys()
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None or f.name in kept:
                out[f.name] = _encode(value)
        return out

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, object], *, where: str | None = None) -> T:
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            raise ContentError(f"{where}: expected an object, got {type(data).__name__}")
        hints = _hints(cls)
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ContentError(f"{where}.{f.name}: missing")
                continue  # an older row: the default
            values[f.name] = _decode(hints[f.name], data[f.name], f"{where}.{f.name}")
        return cls(**values)

    def public_json(self) -> dict[str, object]:
        """What ``GET /v1/embeds/{id}/content`` shows of it: its type, then its public fields
        that the JSON holds (never a key, nonce, storage name or internal note)."""
        data = self.to_json()
        shown = {name: data[name] for name in ("type",) if name in data}
        shown.update((f.name, data[f.name]) for f in self.public_fields() if f.name in data)
        return shown

    @classmethod
    def public_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The fields ``GET /v1/embeds/{id}/content`` shows, in the order it shows them."""
        return tuple(f for f in dataclasses.fields(cls) if f.metadata.get("public"))  # type: ignore[arg-type]


# --- parts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileMeta(_Json):
    """One stored format of an image: what it is, never where it is stored."""

    width: int
    height: int
    size_bytes: int
    format: str
    mime: str | None = None  # older rows lack it: ``image/<format>``

    PUBLIC: ClassVar[tuple[str, ...]] = ("width", "height", "size_bytes", "format")

    @property
    def media_type(self) -> str:
        return self.mime or f"image/{self.format}"

    def public(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.PUBLIC}


Files = dict[str, FileMeta]


def public_files(files: Mapping[str, FileMeta] | None) -> dict | None:
    """Per-format metadata without anything internal (the mime type is for our own reads)."""
    if not files:
        return None
    return {variant: meta.public() for variant, meta in files.items()}


@dataclass(frozen=True)
class Label(_Json):
    """The AI label an image was given (IPTC XMP and C2PA), kept so that a crop or a drawing of
    it carries the very same label."""

    model_name: str | None = None
    model_version: str | None = None
    prompt: str | None = None
    composite: bool = False

    def _null_keys(self) -> frozenset[str]:
        return frozenset({"model_name", "model_version", "prompt"})

    def for_image(self, actions: tuple[str, ...] = ()):
        """The label to write into renditions, with the C2PA actions done after the AI made it."""
        from .imaging import AiLabel

        return AiLabel(
            model_name=self.model_name,
            model_version=self.model_version,
            prompt=self.prompt,
            composite=self.composite,
            actions=actions,
        )


@dataclass(frozen=True)
class ProviderResult(_Json):
    """What the provider said about the image it returned."""

    mime: str | None = None
    model_version: str | None = None
    seed: int | None = None

    def _null_keys(self) -> frozenset[str]:
        return frozenset({"mime", "model_version", "seed"})


@dataclass(frozen=True)
class CropBox(_Json):
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class SearchResult(_Json):
    """One match of a reverse image search (Lens's exact matches first)."""

    title: str
    link: str
    source: str = ""
    source_icon: str | None = None
    thumbnail: str | None = None
    image: str | None = None
    width: int | None = None
    height: int | None = None
    exact: bool = False

    def _null_keys(self) -> frozenset[str]:
        return frozenset({"source_icon", "thumbnail", "image", "width", "height"})


# --- one class per embed type -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImageContent(_Json):
    """An image: generated, AI-edited, uploaded, or cropped from another."""

    type: ClassVar[str] = "image"

    source: str = field(metadata=public("generated, edit, upload or crop."))
    prompt: str | None = field(default=None, metadata=public())
    model: str | None = field(default=None, metadata=public())
    model_label: str | None = field(default=None, metadata=public())
    aspect_ratio: str | None = field(default=None, metadata=public())
    image_size: str | None = field(default=None, metadata=public())
    seed: int | None = field(default=None, metadata=public())
    file_name: str | None = field(default=None, metadata=public())
    derived_from: str | None = field(default=None, metadata=public(fmt="uuid"))
    crop: CropBox | None = field(default=None, metadata=public("crop: the rectangle, in source pixels."))
    generated_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    uploaded_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    requested_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    # Internal: what the pipeline and later derivations need.
    seed_pinned: bool = False  # the user chose the seed: a regeneration keeps it
    composite: bool = False  # people's marks combined with the AI's pixels (or with references)
    # The user's own images a generation or edit was asked to draw on (``reference_embed_ids``):
    # sealed here, never a column, so no one but the owner learns which images fed which.
    reference_embed_ids: tuple[str, ...] | None = None
    provider: ProviderResult | None = None
    ai_label: Label | None = None
    files: Files | None = None
    error_detail: str | None = None  # the provider's own words on failure (may quote the prompt)

    def __post_init__(self) -> None:
        if self.source not in IMAGE_SOURCES:
            raise ContentError(f"ImageContent.source: {self.source!r} is not one of {IMAGE_SOURCES}")

    def _null_keys(self) -> frozenset[str]:
        if self.source == "crop":
            return frozenset({"file_name", "prompt", "model", "aspect_ratio", "ai_label", "files"})
        if self.source == "upload":
            return frozenset({"ai_label", "files"} if self.derived_from else {"files"})
        return frozenset({"seed", "derived_from", "files"})

    @property
    def ai_made(self) -> bool:
        """Whether the image shows AI-made pixels: generated, AI-edited, or derived (cropped,
        drawn on) from such an image, which then carries the label it inherited."""
        return self.source in AI_SOURCES or bool(self.ai_label)

    def inherited_label(self, *, composite: bool = False) -> Label | None:
        """The AI label an image derived from this one must keep (None if this is not AI-made):
        the exact label this one was given, marked composite when people's marks were added."""
        if not self.ai_made:
            return None
        label = self.ai_label or Label(
            model_name=self.model,
            model_version=self.provider.model_version if self.provider else None,
            prompt=self.prompt,
            composite=self.composite,
        )
        return dataclasses.replace(label, composite=True) if composite else label

    @property
    def model_version(self) -> str | None:
        return self.provider.model_version if self.provider else None

    @property
    def original(self) -> FileMeta | None:
        return (self.files or {}).get("original")


@dataclass(frozen=True, kw_only=True)
class SearchResultsContent(_Json):
    """A reverse image search's results (type ``image_search_results``)."""

    type: ClassVar[str] = "image_search_results"
    files: ClassVar[None] = None

    requested_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    results: list[SearchResult] | None = field(
        default=None, metadata=public("image_search_results: null until the search is done.")
    )
    message: str | None = field(default=None, metadata=public())
    engine: str | None = field(default=None, metadata=public())
    source_embed_id: str | None = field(default=None, metadata=public(fmt="uuid"))
    searched_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    error_detail: str | None = None

    def _null_keys(self) -> frozenset[str]:
        return frozenset({"results", "message"} if self.searched_at else {"results"})


@dataclass(frozen=True, kw_only=True)
class AnalysisContent(_Json):
    """A question about an image and, once answered, the answer (type ``image_analysis``)."""

    type: ClassVar[str] = "image_analysis"
    files: ClassVar[None] = None

    model: str | None = field(default=None, metadata=public())
    model_label: str | None = field(default=None, metadata=public())
    requested_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    source_embed_id: str | None = field(default=None, metadata=public(fmt="uuid"))
    question: str = field(metadata=public("image_analysis: the question asked."))
    answer: str | None = field(
        default=None, metadata=public("image_analysis: the answer (null until it is ready).")
    )
    region: dict[str, Any] | None = field(default=None, metadata=public("image_analysis: the shapes."))
    region_box: dict[str, Any] | None = field(default=None, metadata=public())
    truncated: bool | None = field(default=None, metadata=public("image_analysis: the answer was cut off."))
    analyzed_at: str | None = field(default=None, metadata=public(fmt="date-time"))
    model_version: str | None = field(default=None, metadata=public())
    measurements: dict[str, Any] | None = field(default=None, metadata=public())
    error_detail: str | None = None

    def _null_keys(self) -> frozenset[str]:
        keys = {"region", "region_box", "answer"}
        return frozenset(keys | {"model_version", "measurements"} if self.analyzed_at else keys)


EmbedContent = ImageContent | SearchResultsContent | AnalysisContent
CONTENT_TYPES: dict[str, type[EmbedContent]] = {
    cls.type: cls for cls in (ImageContent, SearchResultsContent, AnalysisContent)
}


def content_from_json(data: object, embed_type: str) -> EmbedContent:
    """The typed content of an embed of ``embed_type`` (the row's column decides; the JSON's
    own ``type`` must agree when present)."""
    cls = CONTENT_TYPES.get(embed_type)
    if cls is None:
        raise ContentError(f"no content type {embed_type!r}")
    if not isinstance(data, dict):
        raise ContentError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    if data.get("type", embed_type) != embed_type:
        raise ContentError(f"{cls.__name__}: the content says type {data.get('type')!r}")
    return cls.from_json(data)
