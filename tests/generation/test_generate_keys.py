"""A generate request's keyring calls: one wrap per new embed, and no unwrap for its own answer
(generation.actions leaves the new data key in the data-key cache once committed)."""

from __future__ import annotations

import uuid

import pytest

from embeds.keyring.cache import data_keys
from embeds.models import Embed

pytestmark = pytest.mark.django_db(transaction=True)


def _calls(vault_server, kind: str) -> int:
    return sum(f"/{kind}/" in r for r in vault_server.requests)


@pytest.fixture(autouse=True)
def _empty_cache():
    data_keys.clear()


def test_the_answer_to_a_generate_request_unwraps_no_key(alice_api, vault_server, broker):
    wraps, unwraps = _calls(vault_server, "encrypt"), _calls(vault_server, "decrypt")

    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a lighthouse", "n": 2}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    assert len(body["variants"]) == 2 and all(v["seed"] is None or v["seed"] >= 0 for v in body["variants"])
    assert _calls(vault_server, "encrypt") == wraps + 2
    assert _calls(vault_server, "decrypt") == unwraps
    for embed in Embed.objects.filter(pk__in=[v["embed_id"] for v in body["variants"]]):
        assert embed.id in data_keys


def test_deleting_the_new_embed_forgets_its_cached_key(alice_api, vault_server, broker):
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a lighthouse"}, format="json")
    embed_id = uuid.UUID(response.json()["embed_id"])
    assert embed_id in data_keys

    assert alice_api.delete(f"/v1/embeds/{embed_id}").status_code in (200, 204)

    assert embed_id not in data_keys


def test_with_the_cache_off_the_answer_unwraps_as_before(alice_api, vault_server, broker, settings):
    settings.EMBEDS = {**settings.EMBEDS, "DATA_KEY_CACHE_SECONDS": 0}
    unwraps = _calls(vault_server, "decrypt")
    response = alice_api.post("/v1/apps/images/generate", {"prompt": "a lighthouse"}, format="json")
    assert response.status_code == 202, response.content
    assert len(data_keys) == 0
    assert _calls(vault_server, "decrypt") == unwraps + 1
