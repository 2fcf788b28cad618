"""One JSON error shape for the whole API: ``{"error": {"code", "message", "field"}}``.

Views raise ``ApiError`` (or DRF's own exceptions); the handler turns every one of them into
that shape, so clients branch on ``code`` and show ``message``. Nothing else produces errors.
"""

from __future__ import annotations

import logging

from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .faults import DependencyBusy, DependencyUnavailable, StoredDataUnreadable

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a stable machine-readable code, a readable message and the field at fault."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class ServiceUnavailable(ApiError):
    """A dependency (keyring, storage, database) is down: try again shortly."""

    def __init__(self, message: str = "A storage service is temporarily unavailable.", retry_after: int = 5):
        super().__init__(
            "service_unavailable",
            message,
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(retry_after)},
        )


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def _first_validation_error(detail, prefix: str = "") -> tuple[str | None, str, str]:
    """Walk DRF's nested ValidationError detail to the first (field, message, code)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = None if key == "non_field_errors" else (f"{prefix}{key}" if prefix else str(key))
            field, message, code = _first_validation_error(value, f"{name}." if name else prefix)
            return field or name, message, code
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], prefix)
    code = getattr(detail, "code", None) or "invalid"
    return None, str(detail), code


_VALIDATION_CODES = {
    "required": "missing_field",
    "blank": "invalid_value",
    "null": "invalid_value",
    "max_length": "value_too_long",
    "min_length": "invalid_value",
    "invalid_choice": "invalid_value",
    "invalid": "invalid_value",
    "min_value": "invalid_value",
    "max_value": "invalid_value",
    "unknown_field": "unknown_field",
}


def _translate_dependency_error(exc: Exception) -> Exception:
    """Failures of our own adapters become clean API errors instead of tracebacks."""
    if isinstance(exc, DependencyBusy):
        logger.warning("api.imaging_busy")
        return ServiceUnavailable(str(exc), retry_after=5)
    if isinstance(exc, DependencyUnavailable | DatabaseError):
        logger.warning("api.dependency_unavailable error=%s", type(exc).__name__)
        return ServiceUnavailable()
    if isinstance(exc, StoredDataUnreadable):
        logger.error("api.integrity_error error=%s", type(exc).__name__)
        return ApiError(
            "integrity_error",
            "The stored data of this item could not be read; it may have been deleted or damaged.",
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return exc


def exception_handler(exc: Exception, context: dict) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        exc = _body_refused(exc)
    exc = _translate_dependency_error(exc)
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.message, exc.field)
        headers.update(exc.headers)
    elif isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_validation_error(exc.detail)
        body = error_body(_VALIDATION_CODES.get(code, "invalid_request"), message, field)
    elif isinstance(exc, exceptions.ParseError):
        request = context.get("request")
        if request is not None and request.content_type.startswith("multipart/"):
            body = error_body("invalid_body", f"The multipart body could not be read: {exc.detail}")
        else:
            body = error_body("invalid_json", "The request body is not valid JSON.")
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        body = error_body("unauthenticated", str(exc.detail))
    elif isinstance(exc, exceptions.NotFound):
        body = error_body("not_found", "Not found.")
    elif isinstance(exc, exceptions.Throttled):
        body = error_body("rate_limited", str(exc.detail))
        if exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "invalid_request"
        body = error_body(code, str(exc.detail))
    else:
        return None
    if isinstance(exc, exceptions.APIException):
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if getattr(exc, "wait", None) and "Retry-After" not in headers:
            headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    status_code = getattr(exc, "status_code", status.HTTP_400_BAD_REQUEST)
    return Response(body, status=status_code, headers=headers)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Unknown URLs: the API's JSON error under /v1/, Django's page elsewhere."""
    if request.path.startswith("/v1/"):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return page_not_found(request, exception)


def _body_refused(exc: Exception) -> ApiError:
    """Django's own body limits (a body read whole over DATA_UPLOAD_MAX_MEMORY_SIZE, a form with
    too many fields)."""
    if isinstance(exc, TooManyFieldsSent):
        return ApiError("invalid_body", "The form body has too many fields.")
    return ApiError("request_too_large", "The request body is too large for this endpoint.", status_code=413)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """What Django refuses before any view (a Host not in ALLOWED_HOSTS, a form body over its
    limits): the API's JSON error under /v1/, Django's page elsewhere."""
    if not request.path.startswith("/v1/"):
        return django_bad_request(request, exception)
    if isinstance(exception, DisallowedHost):
        return JsonResponse(error_body("bad_host", "This server does not answer for that Host."), status=400)
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        error = _body_refused(exception)
        return JsonResponse(error_body(error.code, error.message), status=error.status_code)
    return JsonResponse(error_body("invalid_request", "The request could not be read."), status=400)
