"""The one non-API view of generation: a provider fetching the copy we published for it.

Edits send the source image to providers that fetch it by URL (fal.ai); ``shared_links``
publishes a metadata-free copy under a signed, short-lived token, and this view serves it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from embeds import sealing
from embeds.keyring import KeyringUnavailable
from embeds.storage import ObjectMissing, StorageUnavailable

from .models import Task
from .shared_links import read_token, shared_variant


def shared_image(request: HttpRequest, token: str) -> HttpResponse:
    """A provider fetching a published copy: no auth, only a valid, unexpired, live token."""
    link = read_token(token)
    not_found = HttpResponse(status=404)
    if link is None:
        return not_found
    task = Task.objects.select_related("embed").filter(pk=link.task_id, embed_id=link.embed_id).first()
    if task is None or task.is_terminal:
        return not_found
    try:
        data = sealing.open_embed(task.embed).load_file(shared_variant(task.id))
    except ObjectMissing:
        return not_found
    except (KeyringUnavailable, StorageUnavailable):
        unavailable = HttpResponse(status=503)  # the provider's fetch may retry
        unavailable["Retry-After"] = "5"
        return unavailable
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response
