"""The master key endpoint (``accounts.master_keys``): the key stored only wrapped by a
password-derived key, refused when malformed or a second time, per user, and re-wrapped by a
password change (a change without the re-wrapped key changes nothing)."""

from __future__ import annotations

import pytest

from accounts.models import MasterKey
from tests import client_crypto as cc

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = cc.PASSWORD
NEW_PASSWORD = "a-New-passw0rd-42"


def test_master_key_round_trip_and_no_second_key(alice_api):
    assert alice_api.get("/v1/account/master_key").status_code == 404
    master = cc.register_master_key(alice_api)
    stored = alice_api.get("/v1/account/master_key").json()
    assert stored["iterations"] == 600_000 and stored["kdf"] == "PBKDF2-SHA256" and stored["version"] == 1
    assert cc.open_master_key(PASSWORD, stored) == master
    _, again = cc.new_master_key(PASSWORD)
    response = alice_api.post("/v1/account/master_key", again, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "master_key_exists"
    assert cc.open_master_key(PASSWORD, alice_api.get("/v1/account/master_key").json()) == master


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iterations": 100_000}, "iterations"),
        ({"iterations": "600000x"}, "iterations"),
        ({"salt": "c2hvcnQ"}, "salt"),
        ({"wrapped_key": "!!"}, "wrapped_key"),
        ({"extra": 1}, "extra"),
    ],
)
def test_master_key_bad_input(alice_api, change, field):
    _, body = cc.new_master_key(PASSWORD)
    response = alice_api.post("/v1/account/master_key", {**body, **change}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not MasterKey.objects.exists()


def test_master_key_is_per_user(alice_api, bob_api):
    cc.register_master_key(alice_api)
    assert bob_api.get("/v1/account/master_key").status_code == 404


def test_password_change_rewraps_or_changes_nothing(alice, alice_api):
    from django.test import Client

    master = cc.register_master_key(alice_api)
    web = Client()
    web.force_login(alice)
    change = {"old_password": "pw-12345678", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    web.post("/settings/password", change)  # no re-wrapped key (no JavaScript): refused
    alice.refresh_from_db()
    assert alice.check_password("pw-12345678")
    _, rewrapped = cc.new_master_key(NEW_PASSWORD)
    rewrapped["wrapped_key"] = cc.seal_key(
        cc.wrapping_key(NEW_PASSWORD, cc.unb64url(rewrapped["salt"])), master, cc.MASTER_AAD
    )
    assert web.post("/settings/password", {**change, **rewrapped}).status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert cc.open_master_key(NEW_PASSWORD, alice_api.get("/v1/account/master_key").json()) == master
    assert web.get("/settings/").status_code == 200  # the session survives its own password change
