"""The chat app page. Everything dynamic comes from the REST API and the WebSocket."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.models import UserPreferences
from generation import reverse_search
from generation.requests import PROMPT_MAX_LENGTH

from .models import Chat


@login_required
@ensure_csrf_cookie
def app(request: HttpRequest, chat_id: str | None = None) -> HttpResponse:
    if chat_id and not Chat.objects.filter(pk=chat_id, owner=request.user).exists():
        raise Http404("No such chat")  # a bad or foreign link says so; it never opens a new chat
    preferences = UserPreferences.objects.filter(user=request.user).first()
    return render(
        request,
        "chats/app.html",
        {
            "chat_id": chat_id or "",
            "reverse_search_available": reverse_search.is_available(),
            # Shown at generation time, so nobody learns of it from a published file.
            "prompt_in_metadata": preferences.embed_prompt_in_metadata if preferences else True,
            "prompt_max_length": PROMPT_MAX_LENGTH,
            # The composer's "Private upload" box starts as Settings say.
            "private_uploads": preferences.private_uploads_by_default if preferences else False,
        },
    )
