"""The object store for encrypted files: the ``chatfiles`` storage (S3 or the local directory).

This is the only module that touches django-storages. Object names are derived, not stored:
``<hmac(user)>/<hmac(owner id, variant)>``, with no extension, format, variant, date or
"generated/" hint, so an operator browsing the bucket cannot tell uploads from generated images,
and a redelivered job overwrites the same object instead of leaving a duplicate.
"""

from __future__ import annotations

import logging
import threading
import uuid
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.crypto import salted_hmac

from core.faults import DependencyUnavailable, StoredDataUnreadable

logger = logging.getLogger(__name__)

_client_lock = threading.Lock()
_USER_SALT = "openmates_images.storage.user"
_OBJECT_SALT = "openmates_images.storage.object"


class StorageUnavailable(DependencyUnavailable):
    """The object store could not be reached or failed; the caller may retry later."""


class ObjectMissing(StoredDataUnreadable):
    """The object does not exist (deleted, or never written)."""


def _store() -> Storage:
    return storages["chatfiles"]


def object_name(user_id: int, owner_id: uuid.UUID | str, variant: str) -> str:
    """The storage name of one encrypted object. ``owner_id`` is an embed or task id."""
    user_segment = salted_hmac(_USER_SALT, str(user_id), algorithm="sha256").hexdigest()[:24]
    object_segment = salted_hmac(_OBJECT_SALT, f"{owner_id}|{variant}", algorithm="sha256").hexdigest()[:40]
    return f"{user_segment}/{object_segment}"


def _s3_client(store: Storage):
    """The S3 store's low-level boto3 client, shared by every thread of this process; None for
    the local store.

    django-storages keeps a boto3 resource per thread, and under ASGI requests run on fresh
    threads: building one costs about 100 ms of CPU (bench/download.py). boto3's low-level
    clients are thread-safe, so one per store instance serves all threads (a settings change
    makes a new store instance, and with it a new client)."""
    if not hasattr(store, "bucket_name"):
        return None
    client = getattr(store, "_shared_client", None)
    if client is None:
        with _client_lock:
            client = getattr(store, "_shared_client", None)
            if client is None:
                client = store._shared_client = store.connection.meta.client
    return client


class _LeanGetter:
    """An object GET without botocore's per-call machinery, for the download hot path.

    A ``client.get_object`` spends most of its CPU in botocore's event hooks, request
    serialisation, response parsing and checksum validation (bench/profile_hot_paths.py: more
    than half of a served file). This signs the same GET with botocore's own SigV4 signer and
    the client's credentials, region and bucket URL (learnt once from the client itself), and
    sends it over a shared urllib3 pool. The body needs no checksum of S3's: every object is an
    AES-GCM envelope whose tag is checked on decryption."""

    def __init__(self, client, bucket: str) -> None:
        probe = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}))
        self._base = f"{probe.scheme}://{probe.netloc}{probe.path[:-1]}"  # ends with "/"
        self._credentials = client._request_signer._credentials
        self._region = client.meta.region_name
        config = client.meta.config
        self._pool = urllib3.PoolManager(
            maxsize=config.max_pool_connections,
            retries=False,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
        )

    def get(self, key: str) -> bytes:
        url = self._base + quote(key, safe="/~")
        request = AWSRequest(method="GET", url=url)
        S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(request)
        try:
            response = self._pool.request("GET", url, headers=dict(request.headers.items()))
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"could not read object: {type(exc).__name__}") from exc
        if response.status == 200:
            return response.data
        if response.status == 404:
            raise ObjectMissing(key)
        raise StorageUnavailable(f"could not read object: HTTP {response.status}")


def _lean_getter(store: Storage, client) -> _LeanGetter | None:
    """The store's lean getter (None without credentials to sign with: boto3 does it then)."""
    getter = getattr(store, "_lean_getter", None)
    if getter is None and client._request_signer._credentials is not None:
        with _client_lock:
            getter = getattr(store, "_lean_getter", None)
            if getter is None:
                getter = store._lean_getter = _LeanGetter(client, store.bucket_name)
    return getter


def put_object(name: str, data: bytes) -> None:
    store = _store()
    try:
        client = _s3_client(store)
        if client is None:
            store.save(name, ContentFile(data, name=name))
        else:
            client.put_object(
                Bucket=store.bucket_name,
                Key=store._normalize_name(name),
                Body=data,
                ContentType="application/octet-stream",
            )
    except (BotoCoreError, ClientError, OSError) as exc:
        raise StorageUnavailable(f"could not write object: {type(exc).__name__}") from exc


def get_object(name: str) -> bytes:
    store = _store()
    try:
        client = _s3_client(store)
        if client is not None:
            # One GET, not django-storages' HEAD-then-GET: downloads are a hot path.
            key = store._normalize_name(name)
            getter = _lean_getter(store, client)
            if getter is not None:
                return getter.get(key)
            return client.get_object(Bucket=store.bucket_name, Key=key)["Body"].read()
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
    store = _store()
    try:
        client = _s3_client(store)
        if client is None:
            store.delete(name)
        else:
            client.delete_object(Bucket=store.bucket_name, Key=store._normalize_name(name))
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
