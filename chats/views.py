"""The chat app page. Everything dynamic comes from the REST API and the WebSocket."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def app(request: HttpRequest, chat_id: str | None = None) -> HttpResponse:
    from generation import reverse_search

    from .models import Chat

    if chat_id and not Chat.objects.filter(pk=chat_id, owner=request.user).exists():
        raise Http404("No such chat")  # a bad or foreign link says so; it never opens a new chat
    return render(
        request,
        "chats/app.html",
        {"chat_id": chat_id or "", "reverse_search_available": reverse_search.is_available()},
    )
