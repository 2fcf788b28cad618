"""REST views of the account: the wrapped master key (owner only, as every /v1/ view)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictInputSerializer
from core.errors import ApiError
from core.schema import errors

from .master_keys import (
    MAX_ITERATIONS,
    MIN_ITERATIONS,
    VERSION,
    WrappedMasterKey,
    do_create_master_key,
    master_key_payload,
)
from .models import MasterKey

MasterKeySerializer = inline_serializer(
    "MasterKey",
    {
        "wrapped_key": serializers.CharField(help_text="base64url(IV (12) || AES-GCM ciphertext || tag)"),
        "salt": serializers.CharField(help_text="base64url, 16 random bytes"),
        "iterations": serializers.IntegerField(min_value=600_000),
        "version": serializers.IntegerField(),
        "kdf": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "updated_at": serializers.DateTimeField(),
    },
)


class MasterKeyInputSerializer(StrictInputSerializer):
    wrapped_key = serializers.RegexField(
        r"^[A-Za-z0-9_-]{80}$", help_text="base64url(IV (12) || AES-GCM(master key) || tag)"
    )
    salt = serializers.RegexField(r"^[A-Za-z0-9_-]{21}[AQgw]$", help_text="base64url, 16 random bytes")
    iterations = serializers.IntegerField(min_value=MIN_ITERATIONS, max_value=MAX_ITERATIONS)
    version = serializers.IntegerField(min_value=VERSION, max_value=VERSION, required=False)


class MasterKeyView(APIView):
    @extend_schema(responses={200: MasterKeySerializer, **errors(401, 404)})
    def get(self, request: Request) -> Response:
        key = MasterKey.objects.filter(user=request.user).first()
        if key is None:
            raise ApiError("not_found", "This account has no master key yet.", status_code=404)
        return Response(master_key_payload(key))

    @extend_schema(
        request=MasterKeyInputSerializer,
        responses={201: MasterKeySerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = MasterKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = do_create_master_key(request.user, WrappedMasterKey.parse(serializer.validated_data))
        return Response(master_key_payload(key), status=status.HTTP_201_CREATED)
