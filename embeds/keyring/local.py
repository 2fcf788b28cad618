"""The local keyring (embedded default): per-user key-encryption keys in the database, each
encrypted under a master key from ``KEYRING_MASTER_KEY`` or a 0600 file in ``DATA_DIR``."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from django.db import IntegrityError, transaction

from .. import crypto
from ..conf import conf
from .base import Keyring, KeyringError

_PREFIX = "local:v1:"
_KEK_VARIANT = "keyring-kek"
_DATA_KEY_VARIANT = "keyring-data-key"


class LocalKeyring(Keyring):
    @cached_property
    def _master_key(self) -> bytes:
        settings = conf()
        if settings.KEYRING_MASTER_KEY:
            try:
                key = base64.b64decode(settings.KEYRING_MASTER_KEY, validate=True)
            except binascii.Error as exc:
                raise KeyringError("KEYRING_MASTER_KEY is not base64") from exc
            if len(key) != crypto.KEY_BYTES:
                raise KeyringError("KEYRING_MASTER_KEY must decode to 32 bytes")
            return key
        path = Path(settings.KEYRING_MASTER_KEY_FILE)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(crypto.new_data_key())
            try:
                os.link(temporary, path)  # atomic, and never replaces a key another process made
            except FileExistsError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
        key = path.read_bytes()
        if len(key) != crypto.KEY_BYTES:
            raise KeyringError(f"{path} does not hold a 32-byte key")
        return key

    def _kek(self, key_name: str, *, create: bool) -> bytes:
        from ..models import KeyringKey

        row = KeyringKey.objects.filter(name=key_name).first()
        if row is None:
            if not create:
                raise KeyringError("the key does not exist (destroyed?)")
            kek = crypto.new_data_key()
            encrypted = crypto.encrypt(self._master_key, kek, crypto.object_aad(key_name, _KEK_VARIANT))
            try:
                with transaction.atomic():
                    KeyringKey.objects.create(name=key_name, encrypted_kek=encrypted)
                return kek
            except IntegrityError:  # another thread or process created it first
                row = KeyringKey.objects.get(name=key_name)
        try:
            return crypto.decrypt(
                self._master_key, bytes(row.encrypted_kek), crypto.object_aad(key_name, _KEK_VARIANT)
            )
        except crypto.DecryptionError as exc:
            raise KeyringError("the key-encryption key cannot be decrypted (wrong master key?)") from exc

    def wrap(self, key_name: str, data_key: bytes) -> str:
        envelope = crypto.encrypt(
            self._kek(key_name, create=True), data_key, crypto.object_aad(key_name, _DATA_KEY_VARIANT)
        )
        return _PREFIX + base64.b64encode(envelope).decode()

    def unwrap(self, key_name: str, wrapped: str) -> bytes:
        return self._unwrap(key_name, self._kek(key_name, create=False), wrapped)

    def unwrap_many(self, key_name: str, wrapped: Sequence[str]) -> list[bytes]:
        """One read of the key-encryption key for the whole list, then a loop in memory."""
        if not wrapped:
            return []
        kek = self._kek(key_name, create=False)
        return [self._unwrap(key_name, kek, item) for item in wrapped]

    @staticmethod
    def _unwrap(key_name: str, kek: bytes, wrapped: str) -> bytes:
        if not wrapped.startswith(_PREFIX):
            raise KeyringError("not a locally wrapped key")
        try:
            envelope = base64.b64decode(wrapped[len(_PREFIX) :], validate=True)
            return crypto.decrypt(kek, envelope, crypto.object_aad(key_name, _DATA_KEY_VARIANT))
        except (binascii.Error, crypto.DecryptionError) as exc:
            raise KeyringError("the wrapped key is invalid") from exc

    def destroy(self, key_name: str) -> None:
        from ..models import KeyringKey

        KeyringKey.objects.filter(name=key_name).delete()

    def ping(self) -> None:
        self._master_key  # noqa: B018  (reading it is the check)
