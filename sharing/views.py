"""The public share page (no account) and its ciphertext; the settings page's revoke button.

A visitor's browser gets the page, fetches the ciphertext from ``/s/<id>/data`` (with the
password verifier, if the link has a password) and decrypts it with the key from the URL
fragment. Unknown, expired and revoked ids all answer the same 410 page after the same one
query; share pages are rate-limited per client IP.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import error_body

from . import actions, ratelimit
from .models import Share

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def _headers(response: HttpResponse) -> HttpResponse:
    for name, value in PRIVATE_HEADERS.items():
        response[name] = value
    return response


def _limited() -> HttpResponse:
    body = error_body("rate_limited", "Too many requests; try again in a minute.")
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(ratelimit.WINDOW_SECONDS)
    return _headers(response)


def _gone(request: HttpRequest, *, json_body: bool = False) -> HttpResponse:
    if json_body:
        response = JsonResponse(error_body("gone", "This link does not exist or has ended."), status=410)
    else:
        response = render(request, "sharing/gone.html", status=410)
    return _headers(response)


@require_http_methods(["GET", "HEAD"])
def share_page(request: HttpRequest, share_id: str) -> HttpResponse:
    if not ratelimit.allow(request):
        return _limited()
    share = actions.open_share(share_id)
    if share is None:
        return _gone(request)
    return _headers(render(request, "sharing/share.html", {"share": share}))


@csrf_exempt  # no cookie is involved: the visitor proves nothing but the verifier in the body
@require_http_methods(["GET", "POST"])
def share_data(request: HttpRequest, share_id: str) -> HttpResponse:
    if not ratelimit.allow(request):
        return _limited()
    share = actions.open_share(share_id)
    if share is None:
        return _gone(request, json_body=True)
    verifier = None
    if request.method == "POST":
        try:
            verifier = json.loads(request.body or b"{}").get("verifier")
        except (ValueError, AttributeError):
            verifier = None
    if not actions.password_ok(share, verifier if isinstance(verifier, str) else None):
        return _headers(JsonResponse(error_body("wrong_password", "Wrong password."), status=403))
    response = HttpResponse(actions.read_ciphertext(share), content_type="application/octet-stream")
    if share.has_password:
        response["X-Share-Wrapped-Key"] = share.wrapped_key
    return _headers(response)


@login_required
@require_POST
def revoke_from_settings(request: HttpRequest, share_id: str) -> HttpResponse:
    share = Share.objects.filter(pk=share_id[:32], owner=request.user).first()
    if share is not None:
        actions.do_revoke_share(share)
    return redirect("settings")
