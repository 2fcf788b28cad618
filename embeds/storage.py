"""The object store for encrypted files: the ``chatfiles`` storage (S3 or the local directory).

This is the only module that touches django-storages. Object names are derived, not stored:
``<hmac(user)>/<hmac(owner id, variant)>``, with no extension, format, variant, date or
"generated/" hint, so an operator browsing the bucket cannot tell uploads from generated images,
and a redelivered job overwrites the same object instead of leaving a duplicate.
"""

from __future__ import annotations

import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

_USER_SALT = "openmates_images.storage.user"
_OBJECT_SALT = "openmates_images.storage.object"


class StorageUnavailable(Exception):
    """The object store could not be reached or failed; the caller may retry later."""


class ObjectMissing(Exception):
    """The object does not exist (deleted, or never written)."""


def _store() -> Storage:
    return storages["chatfiles"]


def object_name(user_id: int, owner_id: uuid.UUID | str, variant: str) -> str:
    """The storage name of one encrypted object. ``owner_id`` is an embed or task id."""
    user_segment = salted_hmac(_USER_SALT, str(user_id), algorithm="sha256").hexdigest()[:24]
    object_segment = salted_hmac(_OBJECT_SALT, f"{owner_id}|{variant}", algorithm="sha256").hexdigest()[:40]
    return f"{user_segment}/{object_segment}"


def put_object(name: str, data: bytes) -> None:
    try:
        _store().save(name, ContentFile(data, name=name))
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"could not write object: {type(exc).__name__}") from exc


def get_object(name: str) -> bytes:
    store = _store()
    try:
        if hasattr(store, "bucket"):
            # One GET, not django-storages' HEAD-then-GET: downloads are a hot path.
            return store.bucket.Object(store._normalize_name(name)).get()["Body"].read()
        with store.open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise ObjectMissing(name) from exc
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise ObjectMissing(name) from exc
        raise StorageUnavailable(f"could not read object: {type(exc).__name__}") from exc
    except (BotoCoreError, OSError) as exc:
        raise StorageUnavailable(f"could not read object: {type(exc).__name__}") from exc


def delete_object(name: str) -> None:
    """Delete an object; deleting a missing object is not an error."""
    try:
        _store().delete(name)
    except FileNotFoundError:
        return
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"could not delete object: {type(exc).__name__}") from exc


def list_objects(prefix: str = "") -> list[str]:
    """Every object name under a prefix (used by tests, the orphan sweeper and benchmarks)."""
    store = _store()
    names: list[str] = []

    def walk(path: str) -> None:
        dirs, files = store.listdir(path)
        names.extend(f"{path}/{f}" if path else f for f in files)
        for directory in dirs:
            walk(f"{path}/{directory}" if path else directory)

    try:
        walk(prefix.rstrip("/"))
    except FileNotFoundError:
        return []
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"could not list objects: {type(exc).__name__}") from exc
    return names


def modified_time(name: str):
    """When the object was last written (an aware datetime)."""
    try:
        return _store().get_modified_time(name)
    except FileNotFoundError as exc:
        raise ObjectMissing(name) from exc
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"could not stat object: {type(exc).__name__}") from exc


def ping() -> None:
    """Raise StorageUnavailable when the store can't be reached (for /readyz)."""
    try:
        _store().exists("readyz-probe")
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"object store unreachable: {type(exc).__name__}") from exc
