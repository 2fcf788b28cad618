"""Sign-up, log-in/out and the settings page (API keys, privacy preference)."""

from __future__ import annotations

import base64
import time

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApiError
from embeds import crypto

from .api_keys import do_create_api_key, do_revoke_api_key
from .deletion import do_delete_account
from .forms import ApiKeyForm, PreferencesForm, SignupForm
from .master_keys import WrappedMasterKey, do_change_password
from .models import ApiKey, UserPreferences


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
    return render(request, "accounts/signup.html", {"form": form})


NEW_KEY_SESSION = "settings.new_api_key"
NEW_KEY_DISPLAY_SECONDS = 300


def _stash_key(request: HttpRequest) -> bytes:
    """A key for the session's one-time copy of a new API key: the session row holds only
    ciphertext, readable with SECRET_KEY, and only by this user's session."""
    return salted_hmac("accounts.settings.new-api-key", f"{request.user.pk}", algorithm="sha256").digest()


def _stash_new_key(request: HttpRequest, raw_key: str, name: str) -> None:
    sealed = crypto.encrypt(_stash_key(request), raw_key.encode(), NEW_KEY_SESSION.encode())
    request.session[NEW_KEY_SESSION] = {
        "sealed": base64.b64encode(sealed).decode(),
        "name": name,
        "at": time.time(),
    }


def _pop_new_key(request: HttpRequest) -> dict | None:
    """The new key, once: it is dropped from the session as it is read."""
    stashed = request.session.pop(NEW_KEY_SESSION, None)
    if not isinstance(stashed, dict) or time.time() - stashed.get("at", 0) > NEW_KEY_DISPLAY_SECONDS:
        return None
    try:
        raw = crypto.decrypt(
            _stash_key(request), base64.b64decode(stashed["sealed"]), NEW_KEY_SESSION.encode()
        ).decode()
    except Exception:  # tampered with, or sealed under another SECRET_KEY
        return None
    return {"raw": raw, "name": stashed.get("name", "")}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Every POST redirects (POST/redirect/GET), so a refresh never repeats it. A new API key
    is stashed in the session for exactly one display and dropped as it is shown."""
    prefs, _ = UserPreferences.objects.get_or_create(user=request.user)
    key_form = ApiKeyForm()
    prefs_form = PreferencesForm(
        initial={
            "embed_prompt_in_metadata": prefs.embed_prompt_in_metadata,
            "private_uploads_by_default": prefs.private_uploads_by_default,
        }
    )
    if request.method == "POST" and request.POST.get("action") == "create_key":
        key_form = ApiKeyForm(request.POST)
        if key_form.is_valid():
            name = key_form.cleaned_data["name"].strip() or "Unnamed key"
            created = do_create_api_key(request.user, name=name)
            _stash_new_key(request, created.raw_key, created.api_key.name)
            return redirect("settings")
    elif request.method == "POST" and request.POST.get("action") == "preferences":
        prefs_form = PreferencesForm(request.POST)
        if prefs_form.is_valid():
            prefs.embed_prompt_in_metadata = prefs_form.cleaned_data["embed_prompt_in_metadata"]
            prefs.private_uploads_by_default = prefs_form.cleaned_data["private_uploads_by_default"]
            prefs.save(update_fields=["embed_prompt_in_metadata", "private_uploads_by_default"])
            messages.success(
                request,
                "Saved: your prompt will be written into new images' metadata."
                if prefs.embed_prompt_in_metadata
                else "Saved: your prompt stays out of new images' metadata.",
                extra_tags="preferences",
            )
            return redirect("settings")
    elif request.method == "POST":
        return redirect("settings")
    new_key = _pop_new_key(request)
    keys = ApiKey.objects.filter(user=request.user, revoked_at__isnull=True)
    return render(
        request,
        "accounts/settings.html",
        {
            "keys": keys,
            "new_key": new_key,
            "key_form": key_form,
            "prefs_form": prefs_form,
            "password_form": PasswordChangeForm(request.user),
        },
    )


@sensitive_post_parameters("password")
@login_required
@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    if not request.user.check_password(request.POST.get("password", "")):
        messages.error(request, "Your account was not deleted: the password did not match.")
        return redirect("settings")
    user = request.user
    logout(request)
    do_delete_account(user)
    return redirect("signup")


@login_required
@require_POST
def revoke_key(request: HttpRequest, key_id: str) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    do_revoke_api_key(key)
    messages.success(request, f"API key \u201c{key.name}\u201d revoked: requests using it are now refused.")
    return redirect("settings")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    """Django's password change, plus the master key re-wrapped by the browser for the new
    password (hidden fields the page's script fills in), saved together or not at all."""
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"Your password was not changed: {' '.join(errors)}")
        return redirect("settings")
    try:
        rewrapped = WrappedMasterKey.parse(request.POST) if request.POST.get("wrapped_key") else None
        do_change_password(request.user, form.cleaned_data["new_password1"], rewrapped)
    except ApiError as exc:
        messages.error(request, f"Your password was not changed: {exc.message}")
        return redirect("settings")
    update_session_auth_hash(request, request.user)
    messages.success(request, "Password changed; your private images' key was re-wrapped for it.")
    return redirect("settings")
