"""Signals embeds sends to the layers above it, which embeds itself never imports.

``embed_deleting`` is sent (with ``embed_id``) by ``do_delete_embed`` before any of the embed's
objects is deleted: work still running on the embed must be stopped first (``generation``
connects its task lifecycle's ``cancel_for_embed`` in ``GenerationConfig.ready``). A receiver's
writes are committed before the deletion goes on, unless the caller holds a transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

embed_deleting = Signal()
