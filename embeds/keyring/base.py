"""The keyring contract: per-user keys that wrap and unwrap data keys.

Two backends implement it: Vault transit in production (``vault.py``, the only module that
imports hvac) and a local keyring for the embedded default (``local.py``). A data key is never
stored or sent unwrapped; destroying a user's key makes every data key it wrapped unreadable
(crypto-shredding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from core.faults import DependencyUnavailable, StoredDataUnreadable


class KeyringError(StoredDataUnreadable):
    """The key is gone (destroyed) or the wrapped value is invalid: retrying will not help."""


class KeyringUnavailable(KeyringError, DependencyUnavailable):
    """The keyring could not be reached or failed; retry later (callers answer 503)."""


def key_name_for_user(user_id: int) -> str:
    return f"user-{user_id}"


class Keyring(ABC):
    @abstractmethod
    def wrap(self, key_name: str, data_key: bytes) -> str:
        """Wrap a data key under the named key (created on first use); an ASCII string to store."""

    @abstractmethod
    def unwrap(self, key_name: str, wrapped: str) -> bytes:
        """The data key inside ``wrapped``."""

    def unwrap_many(self, key_name: str, wrapped: Sequence[str]) -> list[bytes]:
        """The data keys inside each of ``wrapped`` (all under the named key), in order: what a
        list that decrypts (the chat list) asks for, in one keyring round trip where the backend
        has a batch call. Any item that cannot be unwrapped raises KeyringError, naming it.
        This default unwraps them one at a time."""
        return [self.unwrap(key_name, item) for item in wrapped]

    @abstractmethod
    def destroy(self, key_name: str) -> None:
        """Destroy the named key (idempotent): everything it wrapped becomes unreadable."""

    @abstractmethod
    def ping(self) -> None:
        """Raise KeyringUnavailable when the backend cannot be reached."""
