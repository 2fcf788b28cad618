"""Vault transit keyring: one ``aes256-gcm96`` transit key per user. The only module that
imports hvac; hvac and transport failures become KeyringUnavailable / KeyringError."""

from __future__ import annotations

import base64
import binascii
import queue
from collections.abc import Callable, Sequence
from typing import TypeVar

import hvac
import requests
from hvac import exceptions as vault_errors

from ..conf import conf
from .base import Keyring, KeyringError, KeyringUnavailable

T = TypeVar("T")

_UNAVAILABLE = (
    vault_errors.InternalServerError,
    vault_errors.VaultDown,
    vault_errors.BadGateway,
    vault_errors.RateLimitExceeded,
    vault_errors.VaultNotInitialized,
    vault_errors.UnexpectedError,
    requests.ConnectionError,
    requests.Timeout,
)
_REFUSED = (
    vault_errors.InvalidRequest,
    vault_errors.InvalidPath,
    vault_errors.Forbidden,
    vault_errors.Unauthorized,
    vault_errors.ParamValidationError,
)


class VaultKeyring(Keyring):
    def __init__(self) -> None:
        # hvac clients (each a requests session with its keep-alive connection) are borrowed one
        # per call: a session is not guaranteed thread-safe, and under ASGI every request runs
        # on a fresh thread, so per-thread clients would reconnect (and rebuild) on each request.
        self._idle: queue.SimpleQueue[hvac.Client] = queue.SimpleQueue()
        self._created: set[str] = set()

    def _new_client(self) -> hvac.Client:
        settings = conf()
        return hvac.Client(
            url=settings.VAULT_ADDR, token=settings.VAULT_TOKEN, timeout=settings.VAULT_TIMEOUT
        )

    def _name(self, key_name: str) -> str:
        return conf().VAULT_KEY_PREFIX + key_name

    def _call(self, operation: Callable[[hvac.Client], T]) -> T:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._new_client()
        try:
            result = operation(client)
        except _UNAVAILABLE as exc:
            raise KeyringUnavailable(f"vault unavailable: {type(exc).__name__}") from exc
        except _REFUSED as exc:
            self._idle.put(client)
            raise KeyringError(f"vault refused: {type(exc).__name__}") from exc
        self._idle.put(client)
        return result

    def _ensure_key(self, name: str) -> None:
        if name in self._created:
            return
        mount = conf().VAULT_TRANSIT_MOUNT
        self._call(
            lambda client: client.secrets.transit.create_key(
                name=name, key_type="aes256-gcm96", mount_point=mount
            )
        )
        self._created.add(name)

    def wrap(self, key_name: str, data_key: bytes) -> str:
        name = self._name(key_name)
        self._ensure_key(name)
        plaintext, mount = base64.b64encode(data_key).decode(), conf().VAULT_TRANSIT_MOUNT
        response = self._call(
            lambda client: client.secrets.transit.encrypt_data(
                name=name, plaintext=plaintext, mount_point=mount
            )
        )
        return response["data"]["ciphertext"]

    def unwrap(self, key_name: str, wrapped: str) -> bytes:
        if not wrapped.startswith("vault:"):
            raise KeyringError("not a Vault-wrapped key")
        name, mount = self._name(key_name), conf().VAULT_TRANSIT_MOUNT
        response = self._call(
            lambda client: client.secrets.transit.decrypt_data(
                name=name, ciphertext=wrapped, mount_point=mount
            )
        )
        try:
            return base64.b64decode(response["data"]["plaintext"], validate=True)
        except (KeyError, TypeError, binascii.Error) as exc:
            raise KeyringError("vault returned no plaintext") from exc

    def unwrap_many(self, key_name: str, wrapped: Sequence[str]) -> list[bytes]:
        """One transit decrypt with ``batch_input`` for the whole list. With
        ``partial_failure_response_code`` Vault answers 200 when some items fail, each failed one
        carrying its ``error``; when every item fails it still answers 400 (KeyringError)."""
        if not wrapped:
            return []
        if not all(item.startswith("vault:") for item in wrapped):
            raise KeyringError("not a Vault-wrapped key")
        name, mount = self._name(key_name), conf().VAULT_TRANSIT_MOUNT
        body = {
            "batch_input": [{"ciphertext": item, "reference": str(i)} for i, item in enumerate(wrapped)],
            "partial_failure_response_code": 200,
        }
        response = self._call(lambda client: client.adapter.post(f"/v1/{mount}/decrypt/{name}", json=body))
        try:
            results = response["data"]["batch_results"]
        except (KeyError, TypeError) as exc:
            raise KeyringError("vault returned no batch results") from exc
        if not isinstance(results, list) or len(results) != len(wrapped):
            raise KeyringError("vault returned a batch of the wrong length")
        keys = []
        for index, result in enumerate(results):
            if not isinstance(result, dict):
                raise KeyringError(f"vault returned no result for item {index}")
            if result.get("error"):
                raise KeyringError(f"vault could not unwrap item {index}: {result['error']}")
            try:
                keys.append(base64.b64decode(result["plaintext"], validate=True))
            except (KeyError, TypeError, binascii.Error) as exc:
                raise KeyringError(f"vault returned no plaintext for item {index}") from exc
        return keys

    def destroy(self, key_name: str) -> None:
        """Delete the user's transit key. Only a key Vault says does not exist counts as already
        destroyed; any refusal (a token without ``delete`` on the key, say) raises, so an account
        deletion never reports success while the key survives."""
        name, mount = self._name(key_name), conf().VAULT_TRANSIT_MOUNT
        try:
            self._call(lambda client: client.secrets.transit.read_key(name=name, mount_point=mount))
        except KeyringError as exc:
            if not isinstance(exc.__cause__, vault_errors.InvalidPath):
                raise
        else:
            self._call(
                lambda client: client.secrets.transit.update_key_configuration(
                    name=name, deletion_allowed=True, mount_point=mount
                )
            )
            self._call(lambda client: client.secrets.transit.delete_key(name=name, mount_point=mount))
        self._created.discard(name)

    def ping(self) -> None:
        try:
            response = requests.get(
                f"{conf().VAULT_ADDR.rstrip('/')}/v1/sys/health", timeout=conf().VAULT_TIMEOUT
            )
        except requests.RequestException as exc:
            raise KeyringUnavailable(f"vault unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise KeyringUnavailable(f"vault health {response.status_code}")
