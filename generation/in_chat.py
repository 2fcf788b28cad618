"""The seam through which the REST skills (edit, reverse search, report) write their exchange
into a chat when they are given a ``chat_id``.

``chats`` sits above ``generation`` and owns chats and their exchanges, so generation cannot
call it; instead ``chats`` registers each skill's chat variant here in ``ready()``, and a view
given a ``chat_id`` calls ``run_in_chat``. The registered callable authorizes the chat (someone
else's or a missing one: 404), then runs the generation action and writes the exchange in one
transaction (``chats.skills``).
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import ApiError

_skills: dict[str, Callable[..., object]] = {}


def register_chat_skill(name: str, run: Callable[..., object]) -> None:
    """``run(user, chat_id, **arguments)``: the skill ``name`` with its exchange in that chat."""
    _skills[name] = run


def run_in_chat(name: str, user: object, chat_id: object, **arguments: object) -> object:
    """The skill ``name`` run in chat ``chat_id``; 404 when no chats app answers for it."""
    run = _skills.get(name)
    if run is None:
        raise ApiError("not_found", "Not found.", field="chat_id", status_code=404)
    return run(user, chat_id, **arguments)
