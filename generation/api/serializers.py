"""Input validation for the image endpoints: the validators live in ``generation.requests`` (one
parser for REST, the socket and the chat); the views import them from here."""

from __future__ import annotations

from ..requests import CHAT_ID_HELP, PROMPT_MAX_LENGTH, EditInputSerializer, GenerateInputSerializer

__all__ = ["CHAT_ID_HELP", "PROMPT_MAX_LENGTH", "EditInputSerializer", "GenerateInputSerializer"]
