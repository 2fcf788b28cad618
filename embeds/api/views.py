"""REST views for embeds: files, content, versions, provenance, upload, crop, delete."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.errors import ApiError
from core.hot_path import async_twin, blocking, release_db
from core.schema import errors

from .. import client_mode, imaging, sealing
from ..access import access_embed, access_finished_image
from ..actions import do_create_upload_embed, do_crop_embed, do_delete_embed, do_delete_lineage
from ..conf import conf
from ..content import EmbedContent, ImageContent, public_files
from ..lineage import get_versions, version_count
from ..models import Embed
from ..storage import ObjectMissing
from .serializers import EmbedContentSerializer, EmbedVersionsSerializer

FORMATS = ("preview", "full", "original")
# ``mask``: the PNG an edit was made with (white = changed), kept with the edit; the viewer
# outlines it when comparing the edit with its parent. Only a masked edit has one (else 404).
FILE_FORMATS = (*FORMATS, "mask")
# What serving a file reads of its embed: the owner check, its state and the wrapped data key.
FILE_COLUMNS = ("id", "owner_id", "type", "status", "encryption_mode", "wrapped_key")


def _etag(embed: Embed, variant: str) -> str:
    # A finished embed's files never change (crops and edits make new embeds), so the id and
    # variant name the bytes exactly: a strong validator that needs no decryption to check.
    return '"' + hashlib.sha256(f"{embed.id}|{variant}".encode()).hexdigest()[:32] + '"'


def _if_none_match(request: HttpRequest, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``."""
    header = request.headers.get("If-None-Match", "")
    return header.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in header.split(",")]


class EmbedFileView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(FILE_FORMATS),
                default="preview",
                description="mask: the PNG mask a masked edit was made with (404 for any other image).",
            )
        ],
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            304: None,
            **errors(400, 401, 404, 409, 500, 503),
        },
    )
    def get(self, request: Request, embed_id: str) -> HttpResponse:
        return _file_response(*_load_file(request.user, embed_id, _variant(request), request))


def _variant(request: HttpRequest) -> str:
    variant = request.GET.get("format", "preview")
    if variant not in FILE_FORMATS:
        raise ApiError("invalid_value", f"format must be one of {', '.join(FILE_FORMATS)}.", field="format")
    return variant


def _load_file(
    user, embed_id: str, variant: str, request: HttpRequest
) -> tuple[Embed, str, str, bytes | None]:
    """The owner check, then the decrypted file unless the client's copy is current (None: 304).
    Blocking: the sync view calls it on its request thread, the async twin in one hop."""
    embed = access_finished_image(user, embed_id, only=FILE_COLUMNS, readable=False)
    etag = _etag(embed, variant)
    if _if_none_match(request, etag):
        return embed, variant, etag, None
    release_db()  # the row is read: no connection held while waiting for the store
    # The bytes say what they are: no need to decrypt the content blob on this hot path.
    try:
        return embed, variant, etag, sealing.read_file(embed, variant)
    except ObjectMissing:
        if variant != "mask":
            raise  # a rendition lost from the store: the handler's 500, as before
        message = "This image has no mask: it is not a masked edit."
        raise ApiError("not_found", message, status_code=404) from None


def _file_response(embed: Embed, variant: str, etag: str, data: bytes | None) -> HttpResponse:
    if data is None:
        response = HttpResponse(status=304)
        del response["Content-Type"]  # a 304 has no body to describe
    else:
        fmt, mime = imaging.image_type(data) or ("bin", "application/octet-stream")
        response = HttpResponse(data, content_type=mime)
        response["Content-Length"] = str(len(data))
        extension = {"jpeg": "jpg"}.get(fmt, fmt)
        name = f"image-{str(embed.id)[:8]}-{variant}.{extension}"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        for header, value in (client_mode.file_headers(embed) or {}).items():  # ciphertext: say so
            response[header] = value
    response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={conf().FILE_CACHE_SECONDS}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@async_twin(EmbedFileView)
async def file_async(request: HttpRequest, user, embed_id: str) -> HttpResponse:
    """EmbedFileView.get in the event loop (ASGI): one blocking hop for the row and the object."""
    variant = _variant(request)
    return _file_response(*await blocking(_load_file, user, embed_id, variant, request))


def content_payload(embed: Embed, content: EmbedContent) -> dict:
    """The decrypted content a client may see (the content class's public fields): no keys,
    nonces or storage names."""
    body = content.public_json()
    body.update(
        embed_id=str(embed.id),
        type=embed.type,
        status=embed.status,
        encryption_mode=embed.encryption_mode,
        files=public_files(content.files),
        created_at=embed.created_at.isoformat().replace("+00:00", "Z"),
        parent_id=str(embed.parent_id) if embed.parent_id else None,
        root_id=str(embed.root_id) if embed.root_id else None,
        version_kind=embed.version_kind,
        version_count=version_count(embed),
    )
    if isinstance(content, ImageContent):
        body["ai_made"] = content.ai_made
        if content.model_version:
            body["model_version"] = content.model_version
    task = embed.tasks.order_by("-created_at").first()
    if task is not None:
        body["task_id"] = str(task.id)
        if task.cost_usd is not None:
            body["cost_usd"] = str(task.cost_usd)
        if task.error_code:
            body["error"] = {"code": task.error_code, "message": task.error_message}
            if content.error_detail:
                body["error"]["detail"] = content.error_detail
    return body


class EmbedContentView(APIView):
    @extend_schema(responses={200: EmbedContentSerializer, **errors(401, 404, 500, 503)})
    def get(self, request: Request, embed_id: str) -> Response:
        embed = access_embed(request.user, embed_id)
        return Response(content_payload(embed, sealing.open_embed(embed, cached=True).content()))


LINEAGE_CHOICES = ("one", "all")


class EmbedView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "lineage",
                str,
                enum=list(LINEAGE_CHOICES),
                default="one",
                description="one: this version only (the others stay, re-linked around it); "
                "all: every version of its lineage, all or nothing.",
            )
        ],
        responses={204: None, **errors(400, 401, 403, 404, 503)},
    )
    def delete(self, request: Request, embed_id: str) -> Response:
        lineage = request.query_params.get("lineage", "one")
        if lineage not in LINEAGE_CHOICES:
            raise ApiError("invalid_value", "lineage must be one or all.", field="lineage")
        action = do_delete_lineage if lineage == "all" else do_delete_embed
        action(access_embed(request.user, embed_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmbedVersionsView(APIView):
    @extend_schema(responses={200: EmbedVersionsSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, embed_id: str) -> Response:
        """Every version of the image's lineage (regenerated, edited, cropped, drawn on), oldest
        first: plaintext columns only, two queries however many versions."""
        versions = get_versions(request.user, embed_id)
        return Response(EmbedVersionsSerializer({"root_id": versions[0].root_id, "versions": versions}).data)


def read_upload(request: Request) -> tuple[bytes, str]:
    """The bytes and name of the multipart ``file`` field, within the upload size limit."""
    limit = conf().UPLOAD_MAX_BYTES
    too_large = ApiError(
        "file_too_large",
        f"The file is larger than {limit // (1024 * 1024)} MiB.",
        field="file",
        status_code=413,
    )
    # Refuse an oversized body before parsing it (multipart overhead allowed for).
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        raise too_large
    upload = request.FILES.get("file")
    if upload is None:
        if "file" in request.POST:  # a part without a filename arrives as text: its bytes are lost
            raise ApiError(
                "missing_field", "The 'file' part has no filename; send it as a file part.", field="file"
            )
        raise ApiError("missing_field", "Send the image as a multipart field named 'file'.", field="file")
    if upload.size > limit:
        raise too_large
    data = upload.read()
    if not data:
        raise ApiError("empty_file", "The file is empty.", field="file")
    return data, (upload.name or "image")[:255]


def read_client_upload(request: Request) -> dict:
    """The parts of a private upload: three OMC1 ciphertexts, the wrapped key and encrypted meta."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > conf().UPLOAD_MAX_BYTES + 64 * 1024:
        raise ApiError(
            "file_too_large",
            f"The encrypted files are larger than {conf().UPLOAD_MAX_BYTES // (1024 * 1024)} MiB together.",
            field="original",
            status_code=413,
        )
    files = {name: request.FILES[name].read() for name in sealing.FILE_VARIANTS if name in request.FILES}
    return {
        "files": files,
        "wrapped_key": request.data.get("wrapped_key"),
        "encrypted_meta": request.data.get("encrypted_meta"),
    }


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, required=False)
    encryption_mode = serializers.ChoiceField(
        choices=["vault", "client"],
        required=False,
        help_text="client: a private upload the browser encrypted (send original, full, preview, "
        "wrapped_key and encrypted_meta instead of file); the server cannot read it.",
    )
    original = serializers.FileField(required=False, help_text="client mode: OMC1 envelope")
    full = serializers.FileField(required=False, help_text="client mode: OMC1 envelope")
    preview = serializers.FileField(required=False, help_text="client mode: OMC1 envelope")
    wrapped_key = serializers.RegexField(
        r"^[A-Za-z0-9_-]{80}$",
        required=False,
        help_text="client mode: the wrapped embed key",
    )
    encrypted_meta = serializers.CharField(required=False, help_text="client mode: OMC1, base64url")
    derived_from = serializers.UUIDField(
        required=False,
        help_text="Your image this one was drawn on: a drawing over an AI image stays labelled AI-made.",
    )


class EmbedUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: EmbedContentSerializer, **errors(400, 401, 403, 413, 429, 503)},
    )
    def post(self, request: Request) -> Response:
        mode = request.data.get("encryption_mode", "vault")
        if mode not in ("vault", "client"):
            raise ApiError(
                "invalid_value", "encryption_mode must be vault or client.", field="encryption_mode"
            )
        if mode == "client":
            embed = client_mode.do_create_client_embed(request.user, **read_client_upload(request))
            body = content_payload(embed, client_mode.SEALED_CONTENT)
            return Response(body, status=status.HTTP_201_CREATED)
        data, name = read_upload(request)
        source_id = request.data.get("derived_from")
        # A copy of a private image the user agreed to show the assistant: its source stays private.
        source = (
            access_finished_image(request.user, source_id, field="derived_from", readable=False)
            if source_id
            else None
        )
        embed = do_create_upload_embed(request.user, data, file_name=name, derived_from=source)
        return Response(
            content_payload(embed, sealing.open_embed(embed).content()), status=status.HTTP_201_CREATED
        )


class EmbedKeysView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "embed_id",
                OpenApiTypes.UUID,
                required=True,
                many=True,
                description="Repeat it (or comma-separate the ids), up to 100",
            )
        ],
        responses={
            200: inline_serializer(
                "EmbedKeys",
                {
                    "embed_keys": inline_serializer(
                        "EmbedKey",
                        {
                            "embed_id": serializers.UUIDField(),
                            "wrapped_key": serializers.CharField(),
                            "wrapped_with": serializers.CharField(),
                            "algorithm": serializers.CharField(),
                            "encrypted_meta": serializers.CharField(),
                            "created_at": serializers.DateTimeField(),
                        },
                        many=True,
                    )
                },
            ),
            **errors(400, 401),
        },
    )
    def get(self, request: Request) -> Response:
        """The spec's embed_keys: your client-mode embeds' keys, wrapped by your master key. An
        embed without one (vault mode, another user's, missing) is simply absent."""
        ids = client_mode.parse_embed_ids(request.query_params.getlist("embed_id"))
        keys = client_mode.get_embed_keys(request.user, ids)
        return Response({"embed_keys": [client_mode.embed_key_payload(key) for key in keys]})


class CropInputSerializer(StrictInputSerializer):
    x = serializers.IntegerField(min_value=0)
    y = serializers.IntegerField(min_value=0)
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)


class EmbedCropView(APIView):
    @extend_schema(
        request=CropInputSerializer,
        responses={201: EmbedContentSerializer, **errors(400, 401, 403, 404, 409, 429, 503)},
    )
    def post(self, request: Request, embed_id: str) -> Response:
        source = access_finished_image(request.user, embed_id)
        serializer = CropInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rect = serializer.validated_data
        original = sealing.open_embed(source).image().original
        width, height = (original.width, original.height) if original else (0, 0)
        if rect["x"] + rect["width"] > width or rect["y"] + rect["height"] > height:
            raise ApiError(
                "invalid_value",
                "The rectangle must lie inside the original "
                f"({original and original.width}×{original and original.height} pixels).",
                field="width" if rect["x"] + rect["width"] > width else "height",
            )
        embed = do_crop_embed(request.user, source, (rect["x"], rect["y"], rect["width"], rect["height"]))
        return Response(
            content_payload(embed, sealing.open_embed(embed).content()), status=status.HTTP_201_CREATED
        )


class EmbedProvenanceView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Provenance",
                {
                    "embed_id": serializers.UUIDField(),
                    "renditions": serializers.DictField(child=serializers.DictField()),
                },
            ),
            **errors(401, 404, 409, 500, 503),
        }
    )
    def get(self, request: Request, embed_id: str) -> Response:
        embed = access_finished_image(request.user, embed_id)
        opened = sealing.open_embed(embed, cached=True)
        files = opened.image().files or {}
        renditions = {
            variant: imaging.read_provenance(opened.load_file(variant), meta.media_type)
            for variant, meta in files.items()
        }
        return Response({"embed_id": str(embed.id), "renditions": renditions})
