"""The fullscreen viewer's skills in the chat: an AI edit, a reverse image search, a problem
report (with its regeneration) and a crop, each one exchange (the user's request, the
assistant's reply with the new embed) written with its task or embed in one transaction, as
``chats.actions`` writes generate and regenerate and ``chats.analysis`` writes a question.

The callers (the REST views of the skills, given a ``chat_id``, and the socket's frames) parse
and authorize; these only run the generation or embed action inside the exchange, so a refused
request (rate limit, unavailable model or search, an image not made by a provider) writes
nothing into the chat, and a new chat (``chat=None``) is made only with its first exchange.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from embeds.models import Embed

from .actions import do_exchange_in_chat
from .models import Chat, Message

# The report dialog's reasons, as the request message says them.
REPORT_REASON_TEXT = {
    "artifacts": "artifacts",
    "wrong_content": "not what I asked for",
    "offensive": "offensive",
    "other": "something else",
}
# The crop tool's aspect locks, as the request message names them.
CROP_RATIOS = ("free", "1:1", "4:3", "16:9")


def do_edit_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    params,
    *,
    idempotency_key: str | None = None,
    webhook_url: str = "",
) -> tuple[object, bool, Message | None]:
    """An AI edit (``params``: a parsed edit request) as "Edit: <prompt>" and the new image.
    Returns (task, created, assistant message); a replayed Idempotency-Key writes no second
    exchange (the message is then None)."""
    from generation.actions import check_create_generation

    def start():
        task, created = check_create_generation(
            user, params, idempotency_key=idempotency_key, webhook_url=webhook_url
        )
        return (task, created), task.embed_id if created else None

    (task, created), message = do_exchange_in_chat(
        user, chat, request_text=f"Edit: {params.prompt}", start=start
    )
    return task, created, message


def do_reverse_search_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    *,
    source: Embed | None = None,
    upload: tuple[bytes, str] | None = None,
    idempotency_key: str | None = None,
) -> tuple[object, bool, Message | None]:
    """ "Find similar images on the web" and the results embed that fills in. Returns (task,
    created, assistant message or None for a replay)."""
    from generation.actions import check_create_reverse_search

    def start():
        task, created = check_create_reverse_search(
            user, source=source, upload=upload, idempotency_key=idempotency_key
        )
        return (task, created), task.embed_id if created else None

    (task, created), message = do_exchange_in_chat(
        user, chat, request_text="Find similar images on the web", start=start
    )
    return task, created, message


def do_report_in_chat(
    user: AbstractBaseUser, chat: Chat | None, embed: Embed, *, reason: str, regenerate: bool
) -> tuple[object | None, Message | None]:
    """A problem report; with ``regenerate`` the image made again, shown as "Reported a problem
    (<reason>) — generate it again" and the new image. A report alone is feedback, not part of
    the conversation: nothing is written into the chat. Returns (task or None, message or None)."""
    from generation.actions import do_report_image

    def start():
        task = do_report_image(user, embed, reason=reason, regenerate=regenerate)
        return task, task.embed_id if task is not None else None

    text = f"Reported a problem ({REPORT_REASON_TEXT.get(reason, reason)}) — generate it again"
    return do_exchange_in_chat(user, chat, request_text=text, start=start)


def do_crop_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    source: Embed,
    box: tuple[int, int, int, int],
    *,
    ratio: str = "free",
) -> tuple[Embed, Message]:
    """A crop of ``source`` (``box``: left, top, width, height in original pixels) as
    "Crop (<ratio>)" and the new image. The crop's files are stored before the row commits; a
    chat write that fails after them leaves objects that ``sweep_orphans`` deletes."""
    from embeds.actions import do_crop_embed

    def start():
        embed = do_crop_embed(user, source, box)
        return embed, embed.id

    embed, message = do_exchange_in_chat(user, chat, request_text=f"Crop ({ratio})", start=start)
    return embed, message


def register_rest_skills() -> None:
    """Let the REST skills of ``generation`` (edit, reverse search, report) write into a chat they
    are given (``generation.in_chat``): the chat authorized first, then the skill's exchange."""
    from generation.in_chat import register_chat_skill

    from .access import access_chat

    def chat(user, chat_id) -> Chat:
        return access_chat(user, str(chat_id), field="chat_id")

    def edit(user, chat_id, *, params, **options):
        task, created, _ = do_edit_in_chat(user, chat(user, chat_id), params, **options)
        return task, created

    def reverse_search(user, chat_id, **options):
        task, created, _ = do_reverse_search_in_chat(user, chat(user, chat_id), **options)
        return task, created

    def report(user, chat_id, *, embed, reason, regenerate):
        task, _ = do_report_in_chat(user, chat(user, chat_id), embed, reason=reason, regenerate=regenerate)
        return task

    register_chat_skill("edit", edit)
    register_chat_skill("reverse_search", reverse_search)
    register_chat_skill("report", report)
