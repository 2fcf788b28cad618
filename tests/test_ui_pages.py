"""The server-rendered pages: sign-up, log-in, log-out, the app shell and the settings page."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiKey, UserPreferences

pytestmark = pytest.mark.django_db

PASSWORD = "a-Good-passw0rd!"


def test_signup_logs_in_and_app_needs_login(client):
    assert client.get("/").status_code == 302
    response = client.post("/signup/", {"username": "neo", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    for testid in (
        "composer",
        "composer-input",
        "composer-send",
        "attach-input",
        "generate-button",
        "fullscreen",
        "fullscreen-info",
        "crop-tool",
        "crop-apply",
        "draw-tool",
        "ask-about-this",
        "mark-tool",
        "edit-prompt",
        "edit-send",
    ):
        assert f'data-testid="{testid}"' in page.content.decode(), testid


def test_signup_rejects_weak_passwords(client):
    response = client.post("/signup/", {"username": "neo", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_login_logout_with_csrf(make_user):
    make_user("trinity")
    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/login/")
    token = login_page.cookies["csrftoken"].value
    response = browser.post(
        "/login/", {"username": "trinity", "password": "pw-12345678", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    assert browser.post("/logout/").status_code == 403  # no CSRF token
    token = browser.get("/").cookies.get("csrftoken", login_page.cookies["csrftoken"]).value
    assert browser.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert browser.get("/").status_code == 302


def test_settings_keys_and_privacy_preference(client, alice):
    client.force_login(alice)
    page = client.post("/settings/", {"action": "create_key", "name": "cli"})
    key = ApiKey.objects.get(user=alice)
    raw = page.context["new_key"]
    assert raw.startswith(f"omi_{key.prefix}_") and raw.encode() in page.content
    assert raw not in client.get("/settings/").content.decode()
    assert client.post(f"/settings/keys/{key.id}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    client.post("/settings/", {"action": "preferences"})  # unchecked box = off
    assert UserPreferences.objects.get(user=alice).embed_prompt_in_metadata is False


def test_cannot_revoke_someone_elses_key(client, alice, bob):
    from accounts.api_keys import do_create_api_key

    bobs = do_create_api_key(bob).api_key
    client.force_login(alice)
    assert client.post(f"/settings/keys/{bobs.id}/revoke").status_code == 404
