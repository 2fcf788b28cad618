"""What an adapter's failure means to a caller, independent of which adapter failed.

The storage, keyring, crypto and imaging adapters live in ``embeds``; the API's error handler
lives here, below them. So each adapter's exceptions derive from one of these kinds, and the
handler maps a kind to a response without importing the adapters (the layers point down).
"""

from __future__ import annotations


class DependencyUnavailable(Exception):
    """A service we depend on (object store, keyring, database) cannot be reached: try later."""


class DependencyBusy(Exception):
    """This process is at capacity for the work asked (e.g. decoding images): try shortly."""


class StoredDataUnreadable(Exception):
    """Stored data exists but cannot be read back (missing object, wrong key, failed tag)."""
