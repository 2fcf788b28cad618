"""The gallery's bulk operations on a selection of images: delete them, or download their
originals as one streamed ZIP. (The gallery's list, GET /v1/embeds, filters by chat, so it is
served by ``chats.api``: embeds know nothing of chats.)"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.schema import errors

from ..access import access_images
from ..actions import do_delete_embeds
from ..archive import in_the_loop, zip_originals
from ..gallery import storage_used

SELECTION_MAX = 200  # what one request may name: a gallery's selection, not an account's export


class SelectionInputSerializer(StrictInputSerializer):
    embed_ids = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=SELECTION_MAX,
        help_text="Your images; if any one is not yours (or missing), nothing is done (404).",
    )


def _selection(request: Request) -> list:
    serializer = SelectionInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return access_images(request.user, serializer.validated_data["embed_ids"])


class BulkDeleteView(APIView):
    @extend_schema(
        request=SelectionInputSerializer,
        responses={
            200: inline_serializer(
                "BulkDeleted",
                {
                    "deleted": serializers.ListField(child=serializers.UUIDField()),
                    "total_bytes": serializers.IntegerField(),
                    "total_images": serializers.IntegerField(),
                },
            ),
            **errors(400, 401, 403, 404, 503),
        },
    )
    def post(self, request: Request) -> Response:
        """Delete several of your images at once (all or none of the ids must be yours)."""
        embeds = _selection(request)
        deleted = [str(e.id) for e in embeds]  # a deleted row forgets its id
        do_delete_embeds(embeds)
        total_bytes, total_images = storage_used(request.user)
        return Response({"deleted": deleted, "total_bytes": total_bytes, "total_images": total_images})


class DownloadZipView(APIView):
    @extend_schema(
        request=SelectionInputSerializer,
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **errors(400, 401, 403, 404, 503)},
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        """The originals of several of your images as one ZIP, decrypted, streamed as it is made.
        Private images (and any not finished) are named in NOT-INCLUDED.txt inside it."""
        chunks = zip_originals(_selection(request))
        asgi = isinstance(request._request, ASGIRequest)
        response = StreamingHttpResponse(
            in_the_loop(chunks) if asgi else chunks, content_type="application/zip"
        )
        response["Content-Disposition"] = 'attachment; filename="images.zip"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
