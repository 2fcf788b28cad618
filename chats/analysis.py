"""Questions about images in the chat: the user's question (with the images it is about) as a
message, the answer as the assistant's reply (an ``image_analysis`` embed that streams in).

A separate module from ``chats.actions`` on purpose: the generate skill and plain messages live
there; this is the one path for "a message with images attached and a question" and for the
fullscreen viewer's "Ask about this".
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from generation.analysis.actions import check_create_analysis, parse_analysis_request
from generation.presenters import task_payload

from .actions import _embed_id_list, do_exchange_in_chat
from .models import Chat, Message


def do_analyze_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    *,
    question: object,
    embed_id: object,
    region: object = None,
    model: object = None,
    attachments: object = None,
) -> tuple[dict, Message]:
    """Ask about ``embed_id`` (optionally about ``region`` drawn on it) in ``chat`` (None: a new
    chat). ``attachments`` are the images shown with the question (e.g. the annotated copy the
    viewer made); by default the image asked about. Everything is validated first, exactly as
    ``POST /v1/apps/images/analyze`` validates, and written in one transaction, so a refused
    request (no question, a region outside the image, someone else's image) leaves nothing.
    Returns (task payload, assistant message)."""
    body = {"embed_id": embed_id, "question": question, "region": region, "model": model}
    params = parse_analysis_request(user, {k: v for k, v in body.items() if v is not None})
    shown = _embed_id_list(attachments) or [str(params.source.id)]

    def start():
        task, _ = check_create_analysis(user, params)
        return task, task.embed_id

    task, message = do_exchange_in_chat(
        user, chat, request_text=params.question, request_embed_ids=shown, start=start
    )
    return task_payload(task, embed_status=task.embed.status), message
