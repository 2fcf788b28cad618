"""Events pushed to a user's open tabs over Channels.

This module owns the group names and the message shapes; consumers only forward them. Events
carry ids, status and progress, never prompts or image bytes: the page fetches content over
REST, so a dropped socket loses nothing that a REST call cannot catch up on. The one exception
is ``analysis_delta`` (``analysis.runner``): the answer being written, to its owner's own tabs
only, through the channel layer (messages expire within a minute, nothing is persisted); the
final answer is read over REST like any content.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

EMBED_UPDATE = "embed_update"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def close_user_sockets(user_id: int, *, session_key: str | None = None, api_key_id: object = None) -> None:
    """Close the user's open sockets: those of one session (on log-out) or of one API key (on
    revocation), or all of them (account gone). A socket authenticates once, when it connects;
    this is what ends it afterwards."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "user.session_ended",
        "session_key": session_key,
        "api_key_id": str(api_key_id) if api_key_id is not None else None,
    }
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except Exception:  # the sessions are already gone; the sockets only lose their next event
        logger.warning("generation.events.close_failed", exc_info=True)


def send_to_user(user_id: int, event_type: str, payload: dict) -> None:
    """Send one event to every open tab of a user. Failures are logged, never raised: the
    state is already committed and the page catches up over REST."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            user_group(user_id), {"type": "user.event", "event": event_type, "payload": payload}
        )
    except Exception:  # a down Redis must not fail the job whose state is already saved
        logger.warning("generation.events.send_failed event=%s", event_type, exc_info=True)
