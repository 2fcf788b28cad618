"""REST API for share links: create (ciphertext only), list, revoke; and the shareable copy the
owner's browser encrypts. Owner only: someone else's id answers 404."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiError
from core.schema import ZuluDateTimeField, errors
from embeds.access import access_finished_image
from embeds.conf import conf as embeds_conf

from . import actions
from .models import Share


class SharePathField(serializers.CharField):
    """The share page's path, from the share's id."""

    def to_representation(self, value) -> str:
        return reverse("share-page", kwargs={"share_id": value})


class ShareSerializer(serializers.Serializer):
    """What the owner sees of a link (rendered from the row, and its schema): never a key (the
    server has none) nor the ciphertext."""

    share_id = serializers.CharField(source="id")
    path = SharePathField(
        source="id", help_text="Append '#' and the base64url share key (or fragment secret)."
    )
    embed_id = serializers.UUIDField()
    created_at = ZuluDateTimeField()
    expires_at = ZuluDateTimeField(allow_null=True)
    has_password = serializers.BooleanField()
    include_prompt = serializers.BooleanField()
    view_count = serializers.IntegerField()
    size_bytes = serializers.IntegerField()


class ShareListSerializer(serializers.Serializer):
    shares = ShareSerializer(many=True)


class ShareCreateSerializer(serializers.Serializer):
    embed_id = serializers.UUIDField()
    expires_in = serializers.ChoiceField(choices=list(actions.EXPIRY_CHOICES))
    file = serializers.FileField(help_text="OMS1 envelope: 'OMS1' || IV(12) || AES-256-GCM ciphertext+tag.")
    include_prompt = serializers.BooleanField(required=False, default=True)
    password_salt = serializers.CharField(required=False, help_text="base64url, 16–32 bytes")
    password_iterations = serializers.IntegerField(required=False, min_value=actions.MIN_ITERATIONS)
    wrapped_key = serializers.CharField(required=False, help_text="base64url IV||wrapped key||tag")
    verifier = serializers.CharField(required=False, help_text="base64url, 32 bytes; stored as SHA-256")


def _flag(value, field: str) -> bool:
    if value in (None, ""):
        return True
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise ApiError("invalid_value", "Must be true or false.", field=field)


class ShareListView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        parameters=[OpenApiParameter("embed_id", str, description="Only the links to this image")],
        responses={
            200: ShareListSerializer,
            **errors(400, 401, 404, 409),
        },
    )
    def get(self, request: Request) -> Response:
        actions.purge_expired()
        shares = Share.objects.filter(owner=request.user)
        embed_id = request.query_params.get("embed_id")
        if embed_id:
            shares = shares.filter(
                embed=access_finished_image(request.user, embed_id, field="embed_id", readable=False)
            )
        return Response(ShareListSerializer({"shares": shares}).data)

    @extend_schema(
        request={"multipart/form-data": ShareCreateSerializer},
        responses={201: ShareSerializer, **errors(400, 401, 403, 404, 409, 413, 503)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not data.get("embed_id"):
            raise ApiError("missing_field", "Name the image to share (embed_id).", field="embed_id")
        if data.get("expires_in") in (None, ""):
            raise ApiError("missing_field", "Choose an expiry (expires_in).", field="expires_in")
        # 404 first; a private image is shared too (the browser encrypts its own copy)
        embed = access_finished_image(request.user, data["embed_id"], field="embed_id", readable=False)
        expires_in = actions.parse_expiry(data.get("expires_in"))
        lock = actions.PasswordLock.parse(data)
        include_prompt = _flag(data.get("include_prompt"), "include_prompt")
        upload = request.FILES.get("file")
        if upload is None:
            raise ApiError("missing_field", "Send the ciphertext as multipart field 'file'.", field="file")
        limit = embeds_conf().UPLOAD_MAX_BYTES + 64 * 1024
        actions.check_envelope(b"", limit, size=upload.size)  # before reading it
        ciphertext = upload.read()
        actions.check_envelope(ciphertext, limit)
        share = actions.do_create_share(
            request.user, embed, ciphertext, expires_in=expires_in, lock=lock, include_prompt=include_prompt
        )
        return Response(ShareSerializer(share).data, status=status.HTTP_201_CREATED)


class ShareDetailView(APIView):
    @extend_schema(responses={200: ShareSerializer, **errors(401, 404)})
    def get(self, request: Request, share_id: str) -> Response:
        return Response(ShareSerializer(_own_share(request, share_id)).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404, 503)})
    def delete(self, request: Request, share_id: str) -> Response:
        actions.do_revoke_share(_own_share(request, share_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _own_share(request: Request, share_id: str) -> Share:
    share = actions.live().filter(pk=share_id[:32], owner=request.user).first()
    if share is None:
        raise ApiError("not_found", "Not found.", status_code=404)
    return share


class ShareCopyView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("embed_id", OpenApiTypes.UUID, required=True),
            OpenApiParameter("include_prompt", bool, default=True),
        ],
        responses={(200, "image/webp"): OpenApiTypes.BINARY, **errors(400, 401, 404, 409, 500, 503)},
    )
    def get(self, request: Request) -> HttpResponse:
        """The full WEBP the browser encrypts for a share (without the prompt if asked)."""
        embed_id = request.query_params.get("embed_id")
        if not embed_id:
            raise ApiError("missing_field", "Name the image (embed_id).", field="embed_id")
        include_prompt = _flag(request.query_params.get("include_prompt"), "include_prompt")
        embed = access_finished_image(request.user, embed_id, field="embed_id")
        data = actions.shareable_copy(embed, include_prompt=include_prompt)
        response = HttpResponse(data, content_type="image/webp")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
