"""The web process's caches (API-key lookups, unwrapped data keys) keep every guarantee the
uncached paths gave: a revoked key is refused at once, in this process and in another one; a
deleted embed's or account's keys leave the cache at once; isolation and error shapes hold;
each cache turns off with its setting."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from accounts import api_key_cache
from accounts.api_keys import do_create_api_key, do_revoke_api_key
from embeds.keyring.cache import data_keys
from embeds.models import Embed

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _empty_caches():
    api_key_cache.clear()
    data_keys.clear()
    yield


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _uploaded(client) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/v1/embeds/upload", {"file": SimpleUploadedFile("a.png", _png())}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()["embed_id"]


def _key_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "accounts_apikey" in q["sql"]]


def _client(raw_key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _decrypts(vault_server) -> int:
    return sum("/decrypt/" in r for r in vault_server.requests)


def _in_another_process(code: str) -> None:
    """Run Django code in a separate Python process on this test's database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
    }
    subprocess.run(
        [sys.executable, "-c", f"import django;django.setup();{code}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_a_warm_cache_answers_without_a_key_query(alice):
    client = _client(do_create_api_key(alice).raw_key)
    assert client.get("/v1/apps/images/models").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v1/apps/images/models").status_code == 200
    assert _key_queries(queries) == []


def test_a_revoked_key_is_refused_at_once_with_a_warm_cache(alice):
    created = do_create_api_key(alice)
    client = _client(created.raw_key)
    for _ in range(2):
        assert client.get("/v1/apps/images/models").status_code == 200
    do_revoke_api_key(created.api_key)
    response = client.get("/v1/apps/images/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_key_revoked_by_another_process_is_refused_at_once(alice):
    created = do_create_api_key(alice)
    client = _client(created.raw_key)
    for _ in range(2):
        assert client.get("/v1/apps/images/models").status_code == 200
    _in_another_process(
        "from accounts.models import ApiKey;from accounts.api_keys import do_revoke_api_key;"
        f"do_revoke_api_key(ApiKey.objects.get(pk='{created.api_key.pk}'))"
    )
    assert client.get("/v1/apps/images/models").status_code == 401


def test_a_deactivated_user_is_refused_at_once(alice):
    client = _client(do_create_api_key(alice).raw_key)
    assert client.get("/v1/apps/images/models").status_code == 200
    alice.is_active = False
    alice.save()
    assert client.get("/v1/apps/images/models").status_code == 401


def test_the_api_key_cache_is_off_with_its_setting(alice, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    client = _client(do_create_api_key(alice).raw_key)
    assert client.get("/v1/apps/images/models").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v1/apps/images/models").status_code == 200
    assert len(_key_queries(queries)) == 1


def test_a_warm_data_key_serves_files_without_the_keyring(alice_api, vault_server):
    embed_id = _uploaded(alice_api)
    first = alice_api.get(f"/v1/embeds/{embed_id}/file?format=full")
    assert first.status_code == 200
    assert Embed.objects.get(pk=embed_id).id in data_keys
    before = _decrypts(vault_server)
    again = alice_api.get(f"/v1/embeds/{embed_id}/file?format=full")
    assert again.status_code == 200 and again.content == first.content
    assert alice_api.get(f"/v1/embeds/{embed_id}/content").status_code == 200
    assert _decrypts(vault_server) == before


def test_the_cache_keeps_isolation_and_error_shapes(alice_api, bob_api):
    embed_id = _uploaded(alice_api)
    assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200  # warm: key cached
    for path in (f"/v1/embeds/{embed_id}/file", f"/v1/embeds/{embed_id}/content"):
        response = bob_api.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "field": None}}
    bad_format = alice_api.get(f"/v1/embeds/{embed_id}/file?format=huge")
    assert bad_format.status_code == 400
    assert bad_format.json()["error"]["field"] == "format"


def test_a_deleted_embeds_key_leaves_the_cache_at_once(alice_api):
    embed_id = _uploaded(alice_api)
    assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    embed_pk = Embed.objects.get(pk=embed_id).id
    assert embed_pk in data_keys
    assert alice_api.delete(f"/v1/embeds/{embed_id}").status_code == 204
    assert embed_pk not in data_keys
    assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 404


def test_an_embed_deleted_by_another_process_empties_this_cache(alice_api):
    kept, deleted = _uploaded(alice_api), _uploaded(alice_api)
    for embed_id in (kept, deleted):
        assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    assert len(data_keys) == 2
    _in_another_process(f"from embeds.models import Embed;Embed.objects.get(pk='{deleted}').delete()")
    embed = Embed.objects.get(pk=kept)
    assert data_keys.get(embed.id, embed.wrapped_key) is None  # the epoch moved: all dropped
    assert len(data_keys) == 0


def test_deleting_an_account_empties_the_cache_of_its_keys(alice, alice_api, bob_api):
    from accounts.deletion import do_delete_account

    alices = [_uploaded(alice_api) for _ in range(2)]
    bobs = _uploaded(bob_api)
    for embed_id in alices:
        assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    assert bob_api.get(f"/v1/embeds/{bobs}/file").status_code == 200
    ids = [Embed.objects.get(pk=e).id for e in alices]
    do_delete_account(alice)
    assert all(embed_id not in data_keys for embed_id in ids)
    assert alice_api.get(f"/v1/embeds/{alices[0]}/file").status_code == 401  # key gone with the user
    assert bob_api.get(f"/v1/embeds/{bobs}/file").status_code == 200


def test_the_data_key_cache_is_off_with_its_setting(alice_api, settings, vault_server):
    settings.EMBEDS = {**settings.EMBEDS, "DATA_KEY_CACHE_SECONDS": 0}
    embed_id = _uploaded(alice_api)
    before = _decrypts(vault_server)
    for _ in range(2):
        assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    assert Embed.objects.get(pk=embed_id).id not in data_keys
    assert _decrypts(vault_server) == before + 2


def test_a_cached_data_key_is_used_at_most_max_uses_times(alice_api, settings, vault_server):
    settings.EMBEDS = {**settings.EMBEDS, "DATA_KEY_CACHE_MAX_USES": 2}
    embed_id = _uploaded(alice_api)
    before = _decrypts(vault_server)
    for _ in range(4):  # unwrap, 2 cached uses, unwrap again
        assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    assert _decrypts(vault_server) == before + 2


def test_the_data_key_cache_holds_at_most_max_entries(alice_api, settings):
    settings.EMBEDS = {**settings.EMBEDS, "DATA_KEY_CACHE_MAX_ENTRIES": 1}
    first, second = _uploaded(alice_api), _uploaded(alice_api)
    for embed_id in (first, second):
        assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    assert len(data_keys) == 1
    assert Embed.objects.get(pk=second).id in data_keys


def test_no_unwrapped_key_in_redis_or_the_database(alice_api):
    import redis
    from django.conf import settings

    from embeds import sealing

    embed_id = _uploaded(alice_api)
    assert alice_api.get(f"/v1/embeds/{embed_id}/file").status_code == 200
    embed = Embed.objects.get(pk=embed_id)
    data_key = sealing.open_embed(embed).data_key
    client = redis.Redis.from_url(settings.REDIS_URL)
    for name in client.scan_iter(match=f"omi:epoch:{connection.settings_dict['NAME']}:*"):
        assert data_key not in (client.get(name) or b"")
    row = {k: v for k, v in Embed.objects.filter(pk=embed_id).values()[0].items()}
    assert all(data_key not in bytes(v) for v in row.values() if isinstance(v, bytes | memoryview))


def test_polls_keep_isolation_and_the_completed_shape(alice_api, bob_api, worker):
    from tests.conftest import wait_for_task

    task = alice_api.post("/v1/apps/images/generate", {"prompt": "kite"}, format="json").json()
    done = wait_for_task(alice_api, task["task_id"])
    assert done["status"] == "completed" and set(done["files"]) == {"original", "full", "preview"}
    again = alice_api.get(f"/v1/tasks/{task['task_id']}").json()
    assert again == {**done, "eta_seconds": again["eta_seconds"]}
    response = bob_api.get(f"/v1/tasks/{task['task_id']}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
