"""Writes for chats and messages. Titles and texts are stored encrypted under the chat's data
key (wrapped by the owner's keyring key), with the same envelope as embeds."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApiError
from core.realtime import send_to_user
from embeds import crypto
from embeds.keyring import get_keyring, key_name_for_user
from embeds.models import Embed
from generation.actions import check_create_generation, check_create_generations, request_again
from generation.presenters import generation_payload, task_payload
from generation.requests import parse_generate_request

from .models import Chat, Message, MessageEmbed

TITLE_MAX = 200
TEXT_MAX = 8000

Result = TypeVar("Result")


def chat_key(chat: Chat) -> bytes:
    return get_keyring().unwrap(key_name_for_user(chat.owner_id), chat.wrapped_key)


def chat_keys(chats: Sequence[Chat]) -> dict[uuid.UUID, bytes]:
    """The data keys of many chats: one keyring call per owner (``unwrap_many``: one Vault
    round trip), not one per chat."""
    by_owner: dict[int, list[Chat]] = {}
    for chat in chats:
        by_owner.setdefault(chat.owner_id, []).append(chat)
    keys: dict[uuid.UUID, bytes] = {}
    for owner_id, owned in by_owner.items():
        unwrapped = get_keyring().unwrap_many(key_name_for_user(owner_id), [c.wrapped_key for c in owned])
        keys.update(zip((c.id for c in owned), unwrapped, strict=True))
    return keys


def read_title(chat: Chat, key: bytes) -> str:
    if not chat.encrypted_title:
        return ""
    return crypto.decrypt(key, bytes(chat.encrypted_title), crypto.object_aad(chat.id, "chat-title")).decode()


def read_text(message: Message, key: bytes) -> str:
    if not message.encrypted_text:
        return ""
    return crypto.decrypt(
        key, bytes(message.encrypted_text), crypto.object_aad(message.id, "message-text")
    ).decode()


@transaction.atomic
def do_create_chat(owner: AbstractBaseUser, *, title: str = "") -> Chat:
    key = crypto.new_data_key()
    chat = Chat(owner=owner, wrapped_key=get_keyring().wrap(key_name_for_user(owner.pk), key))
    chat.encrypted_title = crypto.encrypt(
        key, title[:TITLE_MAX].encode(), crypto.object_aad(chat.id, "chat-title")
    )
    chat.save()
    return chat


@transaction.atomic
def do_rename_chat(chat: Chat, title: str) -> Chat:
    key = chat_key(chat)
    chat.encrypted_title = crypto.encrypt(
        key, title[:TITLE_MAX].encode(), crypto.object_aad(chat.id, "chat-title")
    )
    chat.save(update_fields=["encrypted_title", "updated_at"])
    return chat


def do_post_message(
    chat: Chat, *, role: str = Message.Role.USER, text: str = "", embed_ids: list | tuple = ()
) -> Message:
    """A message referencing embeds the chat's owner owns (others' ids answer 404)."""
    embeds = list(Embed.objects.filter(pk__in=list(embed_ids), owner_id=chat.owner_id))
    if len(embeds) != len(set(map(str, embed_ids))):
        raise ApiError(
            "not_found", "One of the attached images does not exist.", field="embed_ids", status_code=404
        )
    key = chat_key(chat)
    with transaction.atomic():
        message = Message(chat=chat, role=role)
        message.encrypted_text = crypto.encrypt(
            key, text[:TEXT_MAX].encode(), crypto.object_aad(message.id, "message-text")
        )
        message.save()
        by_id = {str(e.id): e for e in embeds}
        MessageEmbed.objects.bulk_create(
            MessageEmbed(message=message, embed=by_id[str(embed_id)], position=index)
            for index, embed_id in enumerate(dict.fromkeys(map(str, embed_ids)))
        )
        Chat.objects.filter(pk=chat.pk).update(updated_at=timezone.now())
        if not chat.encrypted_title or read_title(chat, key) == "":
            title = (text or "Images").strip().splitlines()[0][:60] if (text or "").strip() else "Images"
            chat.encrypted_title = crypto.encrypt(
                key, title.encode(), crypto.object_aad(chat.id, "chat-title")
            )
            chat.save(update_fields=["encrypted_title"])
        _notify_message_created(message)
    return message


MESSAGE_CREATED = "message_created"


def _notify_message_created(message: Message) -> None:
    """Tell the owner's open tabs, after commit, that a chat has a new message, so every tab
    showing that chat re-reads it over REST. Ids only: no text travels over the socket."""
    owner_id = message.chat.owner_id
    payload = {"chat_id": str(message.chat_id), "message_id": str(message.id), "role": message.role}
    transaction.on_commit(lambda: send_to_user(owner_id, MESSAGE_CREATED, payload))


def _generation_params(
    user: AbstractBaseUser,
    prompt: object,
    aspect_ratio: object,
    model: object,
    n: object,
    reference_embed_ids: object = None,
):
    """Validate a chat's generate request exactly as POST /v1/apps/images/generate does."""
    body = {"prompt": prompt, "aspect_ratio": aspect_ratio or "1:1"}
    if model:
        body["model"] = model
    if n is not None:
        body["n"] = n
    if reference_embed_ids is not None:
        body["reference_embed_ids"] = reference_embed_ids
    params, _ = parse_generate_request(user, body)
    return params


def _embed_id_list(value: object) -> list[str]:
    """Attachment ids sent with a generate request: a short list of UUIDs."""
    if value in (None, "", ()):
        return []
    if not isinstance(value, list | tuple) or len(value) > 20:
        raise ApiError("invalid_value", "embed_ids must be a list of at most 20 ids.", field="embed_ids")
    try:
        return [str(uuid.UUID(str(item))) for item in value]
    except ValueError:
        raise ApiError("invalid_value", "embed_ids must be image ids.", field="embed_ids") from None


def do_generate_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    *,
    prompt: str,
    aspect_ratio: str,
    model: str | None,
    text: str | None = None,
    embed_ids: list | tuple | None = None,
    n: object = None,
    reference_embed_ids: object = None,
) -> tuple[dict, Message]:
    """The "Generate image" skill from the chat: the user's request as a message (the prompt as
    typed, with any attached images), the embed placeholder of each of its ``n`` variants in one
    assistant message, the tasks queued. Returns (the generate answer: the first task's payload
    with every variant listed, as POST /v1/apps/images/generate answers; assistant message).

    Everything is validated first and written in one transaction: a request that fails (blank
    prompt, bad aspect ratio, unconfigured model, rate limit, someone else's attachment) leaves
    nothing behind. With ``chat=None`` the chat is created in that transaction too, so a failed
    first request leaves no empty chat.
    """
    params = _generation_params(user, prompt, aspect_ratio, model, n, reference_embed_ids)
    attachments = _embed_id_list(embed_ids)
    request_text = (text if text is not None else params.prompt).strip() or params.prompt

    def start():
        tasks, _ = check_create_generations(user, params)
        return tasks, [task.embed_id for task in tasks]

    tasks, message = do_exchange_in_chat(
        user, chat, request_text=request_text, request_embed_ids=attachments, start=start
    )
    return generation_payload(tasks), message


def do_regenerate_in_chat(user: AbstractBaseUser, chat: Chat | None, embed) -> tuple[dict, Message]:
    """The viewer's Regenerate: the request that made ``embed`` runs again (a fresh seed unless
    the user pinned one; an edit on the same source with the same mask) as a new image, with the
    request and the result as one exchange in ``chat``, all in one transaction."""
    params = request_again(user, embed)

    def start():
        task, _ = check_create_generation(user, params)
        return task, task.embed_id

    task, message = do_exchange_in_chat(user, chat, request_text=f"Regenerate: {params.prompt}", start=start)
    return task_payload(task, embed_status=task.embed.status), message


def do_exchange_in_chat(
    user: AbstractBaseUser,
    chat: Chat | None,
    *,
    request_text: str,
    start: Callable[[], tuple[Result, object | None]],
    request_embed_ids: list | tuple = (),
) -> tuple[Result, Message | None]:
    """Every chat skill is one exchange: ``start()`` does the work (queues a task, makes a crop…)
    and returns (its result, the embed to show as the reply, or a list of them: a request's
    variants, shown side by side in the one reply); the user's request and the
    assistant's reply with that embed are written with it, in one transaction. A refused request
    (``start`` or a message raising) leaves nothing: no task, no message, and, with ``chat=None``
    (a new chat), no chat. When ``start`` has nothing to show (an idempotent replay, whose
    exchange the first request wrote; a report without regeneration), no message is written and
    no chat is made. Returns (result, the assistant's message or None)."""
    with transaction.atomic():
        result, embed_id = start()
        if embed_id is None:
            return result, None
        if chat is None:
            chat = do_create_chat(user)
        do_post_message(chat, role=Message.Role.USER, text=request_text, embed_ids=request_embed_ids)
        reply_ids = embed_id if isinstance(embed_id, list) else [embed_id]
        message = do_post_message(chat, role=Message.Role.ASSISTANT, embed_ids=reply_ids)
    return result, message


# Images attached without a question: asked what to look at rather than left without a reply.
IMAGES_WITHOUT_QUESTION_REPLY = (
    "What would you like to know about this image? Type a question and press Send, or open it "
    "and draw around the part you mean, then choose Ask about this."
)


def do_answer_message(
    user: AbstractBaseUser,
    chat: Chat | None,
    *,
    text: str,
    embed_ids: list | tuple = (),
    aspect_ratio: str = "1:1",
    model: str | None = None,
    n: object = None,
) -> tuple[dict | None, Message]:
    """A user's chat message that expects an answer (the composer's Enter): a description makes
    an image, exactly as the "Generate image" skill does (validated first, written in one
    transaction); a question with attached images is answered about the first of them, exactly as
    ``POST /v1/apps/images/analyze`` answers it (its answer embed is the reply); images sent
    without words get a reply asking what to look at. Never leaves the message unanswered.
    Returns (task payload or None, the assistant's message)."""
    from .analysis import do_analyze_in_chat

    attachments = _embed_id_list(list(embed_ids))
    if not attachments:
        return do_generate_in_chat(
            user, chat, prompt=text, aspect_ratio=aspect_ratio, model=model, text=text, n=n
        )
    if text.strip():
        return do_analyze_in_chat(
            user, chat, question=text, embed_id=attachments[0], model=None, attachments=attachments
        )
    with transaction.atomic():
        if chat is None:
            chat = do_create_chat(user)
        do_post_message(chat, role=Message.Role.USER, text=text, embed_ids=attachments)
        reply = do_post_message(chat, role=Message.Role.ASSISTANT, text=IMAGES_WITHOUT_QUESTION_REPLY)
    return None, reply
