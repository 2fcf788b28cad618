"""keyring.unwrap_many: a list's data keys in one keyring round trip (Vault transit's batch
decrypt), and the fake Vault's batch_input answering as Vault does, per-item errors included."""

from __future__ import annotations

import base64

import pytest
import requests

from embeds.keyring import KeyringError, get_keyring
from embeds.keyring.local import LocalKeyring
from embeds.keyring.vault import VaultKeyring
from tests.fakes.vault_server import VaultTransitServer

KEYS = [bytes([i]) * 32 for i in range(5)]


@pytest.fixture
def fake_vault():
    server = VaultTransitServer(token="t").start()
    yield server
    server.stop()


def _post(server, path: str, body: dict) -> requests.Response:
    return requests.post(f"{server.url}/v1/transit/{path}", json=body, headers={"X-Vault-Token": "t"})


def test_fake_vault_batch_decrypt_answers_in_order_with_references(fake_vault):
    wrapped = [
        _post(fake_vault, "encrypt/k", {"plaintext": base64.b64encode(key).decode()}).json()["data"][
            "ciphertext"
        ]
        for key in KEYS[:2]
    ]
    response = _post(
        fake_vault,
        "decrypt/k",
        {"batch_input": [{"ciphertext": c, "reference": f"r{i}"} for i, c in enumerate(wrapped)]},
    )
    assert response.status_code == 200
    assert response.json()["data"]["batch_results"] == [
        {"reference": "r0", "plaintext": base64.b64encode(KEYS[0]).decode()},
        {"reference": "r1", "plaintext": base64.b64encode(KEYS[1]).decode()},
    ]


def test_fake_vault_batch_partial_failure_is_400_unless_overridden_and_all_failed_stays_400(fake_vault):
    good = _post(fake_vault, "encrypt/k", {"plaintext": "aGk="}).json()["data"]["ciphertext"]
    bad = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    mixed = {"batch_input": [{"ciphertext": good}, {"ciphertext": bad}, {}]}
    response = _post(fake_vault, "decrypt/k", mixed)
    assert response.status_code == 400
    assert response.json()["data"]["batch_results"] == [
        {"reference": "", "plaintext": "aGk="},
        {"reference": "", "error": "cipher: message authentication failed"},
        {"reference": "", "error": "missing ciphertext to decrypt"},
    ]
    assert _post(fake_vault, "decrypt/k", {**mixed, "partial_failure_response_code": 200}).status_code == 200
    assert _post(fake_vault, "decrypt/k", {**mixed, "partial_failure_response_code": 700}).status_code == 400
    all_failed = {"batch_input": [{"ciphertext": bad}], "partial_failure_response_code": 200}
    assert _post(fake_vault, "decrypt/k", all_failed).status_code == 400
    empty = _post(fake_vault, "decrypt/k", {"batch_input": []})
    assert empty.status_code == 400 and empty.json() == {"errors": ["missing batch input to process"]}
    assert _post(fake_vault, "decrypt/nokey", {"batch_input": [{"ciphertext": good}]}).status_code == 400


@pytest.mark.django_db
def test_vault_unwrap_many_is_one_round_trip(vault_server):
    keyring = get_keyring()
    assert isinstance(keyring, VaultKeyring)
    wrapped = [keyring.wrap("user-77", key) for key in KEYS]
    before = len(vault_server.requests)
    assert keyring.unwrap_many("user-77", wrapped) == KEYS
    assert vault_server.requests[before:] == ["POST /v1/transit/decrypt/openmates-user-user-77"]
    assert keyring.unwrap_many("user-77", []) == []
    assert len(vault_server.requests) == before + 1  # nothing to unwrap: no call


@pytest.mark.django_db
def test_vault_unwrap_many_names_the_item_that_fails(vault_server):
    keyring = get_keyring()
    wrapped = [keyring.wrap("user-78", key) for key in KEYS[:3]]
    other = keyring.wrap("user-79", KEYS[3])  # under someone else's key: Vault cannot open it
    with pytest.raises(KeyringError, match="item 1"):
        keyring.unwrap_many("user-78", [wrapped[0], other, wrapped[2]])
    with pytest.raises(KeyringError):  # every item failed: Vault answers 400
        keyring.unwrap_many("user-78", [other])
    with pytest.raises(KeyringError):
        keyring.unwrap_many("user-78", ["local:v1:AAAA"])


@pytest.mark.django_db
def test_local_unwrap_many_matches_unwrap(settings, tmp_path):
    settings.EMBEDS = {
        **settings.EMBEDS,
        "KEYRING": "local",
        "KEYRING_MASTER_KEY": "",
        "KEYRING_MASTER_KEY_FILE": str(tmp_path / "master.key"),
    }
    keyring = get_keyring()
    assert isinstance(keyring, LocalKeyring)
    wrapped = [keyring.wrap("user-5", key) for key in KEYS]
    assert keyring.unwrap_many("user-5", wrapped) == [keyring.unwrap("user-5", w) for w in wrapped] == KEYS
    with pytest.raises(KeyringError):
        keyring.unwrap_many("user-5", [wrapped[0], "local:v1:!!"])
