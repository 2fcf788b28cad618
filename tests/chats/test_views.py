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
    page = client.get("/settings/")
    name_input = next(line for line in page.content.decode().splitlines() if 'name="name"' in line)
    assert "placeholder=" in name_input and "value=" not in name_input  # a hint, not a prefilled name
    assert page["Cache-Control"] and "no-store" in page["Cache-Control"]

    # POST/redirect/GET: the POST only redirects; the key is shown once, by the GET after it.
    created = client.post("/settings/", {"action": "create_key", "name": "cli"})
    assert created.status_code == 302 and created["Location"] == "/settings/"
    key = ApiKey.objects.get(user=alice)
    stored = str(dict(client.session))  # the one-time copy in the session is ciphertext
    assert "omi_" not in stored and "settings.new_api_key" in stored
    shown = client.get("/settings/")
    raw = shown.context["new_key"]["raw"]
    assert raw.startswith(f"omi_{key.prefix}_") and raw.encode() in shown.content
    again = client.get("/settings/")  # a refresh neither shows it again nor makes a second key
    assert raw not in again.content.decode() and again.context["new_key"] is None
    assert ApiKey.objects.filter(user=alice).count() == 1

    unnamed = client.post("/settings/", {"action": "create_key", "name": ""}, follow=True)
    assert unnamed.context["new_key"]["name"] == "Unnamed key"

    # Revoking asks first (the form carries the question the page's dialog shows).
    assert 'data-confirm="Revoke' in again.content.decode()
    assert client.post(f"/settings/keys/{key.id}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None

    saved = client.post("/settings/", {"action": "preferences"}, follow=True)  # unchecked box = off
    assert UserPreferences.objects.get(user=alice).embed_prompt_in_metadata is False
    assert b'data-testid="preferences-saved"' in saved.content
    assert b"stays out of new images" in saved.content
    assert b'data-testid="preferences-saved"' not in client.get("/settings/").content  # shown once


def test_settings_post_without_a_known_action_redirects(client, alice):
    client.force_login(alice)
    response = client.post("/settings/", {"action": "dance"})
    assert response.status_code == 302 and response["Location"] == "/settings/"


def test_login_page_redirects_when_already_logged_in(client, alice):
    client.force_login(alice)
    response = client.get("/login/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_app_offers_find_similar_only_with_reverse_search(client, alice, monkeypatch):
    from generation import reverse_search

    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'data-testid="find-similar"' not in page
    for testid in ("chat-menu", "sidebar", "report-dialog", "chat-title"):
        assert f'data-testid="{testid}"' in page, testid
    monkeypatch.setattr(reverse_search, "is_available", lambda: True)
    assert 'data-testid="find-similar"' in client.get("/").content.decode()


def test_cannot_revoke_someone_elses_key(client, alice, bob):
    from accounts.api_keys import do_create_api_key

    bobs = do_create_api_key(bob).api_key
    client.force_login(alice)
    assert client.post(f"/settings/keys/{bobs.id}/revoke").status_code == 404


def test_unknown_pages_and_bad_chat_links_answer_a_styled_404(client, alice, bob):
    import uuid

    from chats.actions import do_create_chat

    client.force_login(alice)
    theirs = do_create_chat(bob, title="Bob's")
    mine = do_create_chat(alice, title="Mine")
    assert client.get(f"/c/{mine.id}").status_code == 200
    for path in (f"/c/{uuid.uuid4()}", f"/c/{theirs.id}", "/no-such-page"):
        page = client.get(path)
        assert page.status_code == 404, path
        body = page.content.decode()
        assert 'data-testid="not-found"' in body and "css/app.css" in body and 'href="/"' in body
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"  # the API stays JSON


def test_api_docs_answer_with_and_without_a_trailing_slash(client):
    assert client.get("/v1/docs").status_code == 200
    slash = client.get("/v1/docs/")
    assert slash.status_code == 301 and slash["Location"] == "/v1/docs"


def test_the_gallery_page_is_the_chat_pages_viewer_around_a_grid(client, alice):
    assert client.get("/gallery").status_code == 302  # log in first
    client.force_login(alice)
    page = client.get("/gallery")
    assert page.status_code == 200
    html = page.content.decode()
    for testid in (
        "gallery-grid",
        "filter-kind",
        "filter-model",
        "filter-chat",
        "select-mode",
        "fullscreen",
        "ask-dialog",
    ):
        assert f'data-testid="{testid}"' in html, testid
    assert "js/gallery.js" in html and "js/app.js" not in html  # the viewer, not the chat
    assert 'data-testid="composer"' not in html
    assert 'href="/gallery"' in client.get("/").content.decode()  # linked from the chat
