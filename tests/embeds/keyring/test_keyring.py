"""Both keyring backends against the real thing: the database for the local keyring, our
Vault-transit server over HTTP (through hvac) for the Vault keyring."""

from __future__ import annotations

import base64
import socket

import pytest

from embeds.keyring import KeyringError, KeyringUnavailable, get_keyring, key_name_for_user
from embeds.keyring.local import LocalKeyring
from embeds.keyring.vault import VaultKeyring
from embeds.models import KeyringKey
from tests.fakes.vault_server import VaultTransitServer

DATA_KEY = bytes(range(32))


def _local(settings, tmp_path, **extra):
    settings.EMBEDS = {
        **settings.EMBEDS,
        "KEYRING": "local",
        "KEYRING_MASTER_KEY": "",
        "KEYRING_MASTER_KEY_FILE": str(tmp_path / "keys" / "master.key"),
        **extra,
    }
    keyring = get_keyring()
    assert isinstance(keyring, LocalKeyring)
    return keyring


@pytest.mark.django_db
def test_local_wrap_unwrap_and_master_key_file(settings, tmp_path):
    keyring = _local(settings, tmp_path)
    wrapped = keyring.wrap(key_name_for_user(7), DATA_KEY)
    assert wrapped.startswith("local:v1:")
    assert DATA_KEY.hex() not in wrapped and base64.b64encode(DATA_KEY).decode() not in wrapped
    assert keyring.unwrap(key_name_for_user(7), wrapped) == DATA_KEY
    master = tmp_path / "keys" / "master.key"
    assert master.stat().st_mode & 0o777 == 0o600 and len(master.read_bytes()) == 32
    row = KeyringKey.objects.get(name="user-7")
    assert DATA_KEY not in bytes(row.encrypted_kek)
    with pytest.raises(KeyringError):  # another user's key cannot unwrap it
        keyring.unwrap(key_name_for_user(8), wrapped)


@pytest.mark.django_db
def test_local_master_key_from_env_and_wrong_master(settings, tmp_path):
    master = base64.b64encode(b"m" * 32).decode()
    keyring = _local(settings, tmp_path, KEYRING_MASTER_KEY=master)
    wrapped = keyring.wrap("user-1", DATA_KEY)
    assert not (tmp_path / "keys" / "master.key").exists()
    keyring = _local(settings, tmp_path, KEYRING_MASTER_KEY=base64.b64encode(b"n" * 32).decode())
    with pytest.raises(KeyringError):
        keyring.unwrap("user-1", wrapped)


@pytest.mark.django_db
def test_local_destroy_is_crypto_shredding(settings, tmp_path):
    keyring = _local(settings, tmp_path)
    wrapped = keyring.wrap("user-3", DATA_KEY)
    keyring.destroy("user-3")
    keyring.destroy("user-3")  # idempotent
    with pytest.raises(KeyringError):
        keyring.unwrap("user-3", wrapped)


def test_vault_wrap_unwrap_creates_a_key_per_user(vault_server):
    keyring = get_keyring()
    assert isinstance(keyring, VaultKeyring)
    wrapped = keyring.wrap("user-41", DATA_KEY)
    assert wrapped.startswith("vault:v1:")
    assert keyring.unwrap("user-41", wrapped) == DATA_KEY
    assert "openmates-user-user-41" in vault_server.keys
    with pytest.raises(KeyringError):
        keyring.unwrap("user-42", wrapped)


def test_vault_destroy_then_unwrap_fails(vault_server):
    keyring = get_keyring()
    wrapped = keyring.wrap("user-43", DATA_KEY)
    keyring.destroy("user-43")
    keyring.destroy("user-43")  # idempotent: Vault says the key does not exist
    assert "openmates-user-user-43" not in vault_server.keys
    with pytest.raises(KeyringError) as raised:
        keyring.unwrap("user-43", wrapped)
    assert not isinstance(raised.value, KeyringUnavailable)


def test_vault_5xx_is_unavailable_and_bad_token_is_refused(vault_server, settings):
    keyring = get_keyring()
    wrapped = keyring.wrap("user-44", DATA_KEY)
    vault_server.fail_next(1, status=503)
    with pytest.raises(KeyringUnavailable):
        keyring.unwrap("user-44", wrapped)
    assert keyring.unwrap("user-44", wrapped) == DATA_KEY
    settings.EMBEDS = {**settings.EMBEDS, "VAULT_TOKEN": "wrong"}
    with pytest.raises(KeyringError) as raised:
        get_keyring().unwrap("user-44", wrapped)
    assert not isinstance(raised.value, KeyringUnavailable)


def test_vault_down_is_unavailable_quickly(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EMBEDS = {**settings.EMBEDS, "VAULT_ADDR": f"http://127.0.0.1:{port}", "VAULT_TIMEOUT": 1}
    with pytest.raises(KeyringUnavailable):
        get_keyring().wrap("user-45", DATA_KEY)
    with pytest.raises(KeyringUnavailable):
        get_keyring().ping()


def test_fake_vault_speaks_transit_with_real_aes_gcm():
    server = VaultTransitServer(token="t").start()
    try:
        import hvac

        client = hvac.Client(url=server.url, token="t")
        ciphertext = client.secrets.transit.encrypt_data(name="k", plaintext="aGk=")["data"]["ciphertext"]
        assert (
            client.secrets.transit.decrypt_data(name="k", ciphertext=ciphertext)["data"]["plaintext"]
            == "aGk="
        )
        tampered = ciphertext[:-4] + ("AAAA" if not ciphertext.endswith("AAAA") else "BBBB")
        with pytest.raises(hvac.exceptions.InvalidRequest):
            client.secrets.transit.decrypt_data(name="k", ciphertext=tampered)
    finally:
        server.stop()


def test_vault_destroy_refused_is_an_error_not_a_success(vault_server, settings):
    keyring = get_keyring()
    keyring.wrap("user-45", DATA_KEY)
    settings.EMBEDS = {**settings.EMBEDS, "VAULT_TOKEN": "token-without-delete"}
    with pytest.raises(KeyringError):
        get_keyring().destroy("user-45")
    assert "openmates-user-user-45" in vault_server.keys  # nothing claimed that was not done
